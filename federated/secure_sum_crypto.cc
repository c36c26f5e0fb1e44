#include "federated/secure_sum_crypto.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/parallel.h"

namespace fedra {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

constexpr size_t kNonceBytes = 12, kTagBytes = 16;

Status CryptoError(std::string_view what) { return Internal("secure sum: " + std::string(what) + " failed"); }

Result<PkeyPtr> PrivateKey(const Secret32& private_key) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
  if (!key) return CryptoError("loading an X25519 private key");
  return key;
}

Result<Secret32> PublicOf(EVP_PKEY* key) {
  Secret32 out{};
  size_t n = out.size();
  if (EVP_PKEY_get_raw_public_key(key, out.data(), &n) != 1 || n != out.size())
    return CryptoError("reading an X25519 public key");
  return out;
}

Result<Secret32> Hkdf(std::span<const uint8_t> secret, std::string_view info) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  Secret32 out{};
  size_t n = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), secret.data(), static_cast<int>(secret.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &n) != 1 || n != out.size()) {
    return CryptoError("HKDF");
  }
  return out;
}

}  // namespace

Result<X25519Keys> NewX25519Keys() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!key) return CryptoError("X25519 key generation");
  X25519Keys keys;
  size_t n = keys.private_key.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), keys.private_key.data(), &n) != 1 || n != keys.private_key.size())
    return CryptoError("reading an X25519 private key");
  FEDRA_ASSIGN_OR_RETURN(keys.public_key, PublicOf(key.get()));
  return keys;
}

Result<Secret32> X25519PublicKey(const Secret32& private_key) {
  FEDRA_ASSIGN_OR_RETURN(PkeyPtr key, PrivateKey(private_key));
  return PublicOf(key.get());
}

Result<Secret32> AgreeSecret(const Secret32& private_key, const Secret32& peer_public, std::string_view purpose) {
  FEDRA_ASSIGN_OR_RETURN(PkeyPtr own, PrivateKey(private_key));
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()));
  if (!peer) return InvalidArgument("secure sum: a peer's public key is not an X25519 key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(own.get(), nullptr));
  Secret32 shared{};
  size_t n = shared.size();
  // OpenSSL refuses low-order points (an all-zero shared secret), so a bad key fails here.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &n) != 1 || n != shared.size()) {
    return InvalidArgument("secure sum: key agreement with a peer's public key failed");
  }
  return Hkdf(shared, purpose);
}

Result<Secret32> RandomSecret() {
  Secret32 out{};
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) return CryptoError("the random generator");
  return out;
}

namespace {

// `from` holds to.size() words, read as bytes (it may be a key stream's byte buffer).
template <typename Word, bool kSubtract>
void CombineWords(std::span<Word> to, const unsigned char* from) {
  // GCC's vector extension: one SSE2 instruction for 16 bytes, whatever the build's flags.
  typedef Word Vector __attribute__((vector_size(16)));
  constexpr size_t kLanes = sizeof(Vector) / sizeof(Word);
  size_t i = 0;
  for (; i + kLanes <= to.size(); i += kLanes) {
    Vector a, b;
    std::memcpy(&a, to.data() + i, sizeof a);
    std::memcpy(&b, from + i * sizeof(Word), sizeof b);
    a = kSubtract ? a - b : a + b;
    std::memcpy(to.data() + i, &a, sizeof a);
  }
  for (; i < to.size(); ++i) {
    Word b;
    std::memcpy(&b, from + i * sizeof(Word), sizeof b);
    to[i] = kSubtract ? to[i] - b : to[i] + b;
  }
}

template <typename Word>
void CombineWords(std::span<Word> to, const unsigned char* from, bool subtract) {
  if (subtract) {
    CombineWords<Word, true>(to, from);
  } else {
    CombineWords<Word, false>(to, from);
  }
}

// A key stream is AES-CTR over zeros, made this many bytes at a time.
constexpr size_t kKeyStreamBlock = 32768;

const unsigned char* Zeros() {
  static const std::vector<unsigned char> zeros(kKeyStreamBlock, 0);
  return zeros.data();
}

}  // namespace

void AddWords(std::span<uint64_t> to, std::span<const uint64_t> from, bool subtract) {
  CombineWords(to.first(std::min(to.size(), from.size())), reinterpret_cast<const unsigned char*>(from.data()),
               subtract);
}
void AddWords(std::span<uint32_t> to, std::span<const uint32_t> from, bool subtract) {
  CombineWords(to.first(std::min(to.size(), from.size())), reinterpret_cast<const unsigned char*>(from.data()),
               subtract);
}

struct MaskStreams::Stream {
  CipherCtxPtr cipher;
  bool subtract = false;
};

MaskStreams::MaskStreams(MaskStreams&&) noexcept = default;
MaskStreams& MaskStreams::operator=(MaskStreams&&) noexcept = default;
MaskStreams::~MaskStreams() = default;

Result<MaskStreams> MaskStreams::Start(std::span<const Mask> masks, uint64_t first_byte) {
  MaskStreams out;
  out.key_stream_.resize(kKeyStreamBlock);
  for (const Mask& m : masks) {
    // The counter block of the AES block that holds `first_byte`: the seed's second half plus
    // the blocks before it, as one 128-bit big-endian number (as AES-CTR counts).
    std::array<unsigned char, 16> counter;
    std::copy(m.seed.begin() + 16, m.seed.end(), counter.begin());
    uint64_t carry = first_byte / 16;
    for (size_t i = counter.size(); i-- > 0 && carry > 0;) {
      carry += counter[i];
      counter[i] = static_cast<unsigned char>(carry);
      carry >>= 8;
    }
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    int skipped = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr, m.seed.data(), counter.data()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.key_stream_.data(), &skipped, Zeros(), static_cast<int>(first_byte % 16)) !=
            1) {
      return CryptoError("starting a mask stream");
    }
    out.streams_.push_back({std::move(ctx), m.subtract});
  }
  return out;
}

template <typename Word>
Status MaskStreams::ApplyTo(std::span<Word> words) {
  constexpr size_t kBlockWords = kKeyStreamBlock / sizeof(Word);
  for (size_t begin = 0; begin < words.size(); begin += kBlockWords) {
    const std::span<Word> block = words.subspan(begin, std::min(kBlockWords, words.size() - begin));
    for (Stream& s : streams_) {
      int out_len = 0;
      if (EVP_EncryptUpdate(s.cipher.get(), key_stream_.data(), &out_len, Zeros(),
                            static_cast<int>(block.size_bytes())) != 1) {
        return CryptoError("a mask stream");
      }
      CombineWords(block, key_stream_.data(), s.subtract);
    }
  }
  return Status::Ok();
}

Status MaskStreams::Apply(std::span<uint64_t> words) { return ApplyTo(words); }
Status MaskStreams::Apply(std::span<uint32_t> words) { return ApplyTo(words); }

namespace {

template <typename Word>
Status ApplyMasksTo(std::span<const Mask> masks, std::span<Word> words) {
  return ForRanges(words.size(), kMaskWordsPerThread, [&](size_t begin, size_t end) -> Status {
    FEDRA_ASSIGN_OR_RETURN(MaskStreams streams, MaskStreams::Start(masks, begin * sizeof(Word)));
    return streams.Apply(words.subspan(begin, end - begin));
  });
}

}  // namespace

Status ApplyMasks(std::span<const Mask> masks, std::span<uint64_t> words) { return ApplyMasksTo(masks, words); }
Status ApplyMasks(std::span<const Mask> masks, std::span<uint32_t> words) { return ApplyMasksTo(masks, words); }

Result<Bytes> Seal(const Secret32& key, std::span<const uint8_t> plain, std::string_view context) {
  Bytes out(kNonceBytes + plain.size() + kTagBytes);
  if (RAND_bytes(out.data(), kNonceBytes) != 1) return CryptoError("the random generator");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kNonceBytes, &n, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonceBytes + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out.data() + kNonceBytes + plain.size()) != 1) {
    return CryptoError("sealing a share");
  }
  return out;
}

Result<Bytes> Unseal(const Secret32& key, std::span<const uint8_t> sealed, std::string_view context) {
  if (sealed.size() < kNonceBytes + kTagBytes) return PermissionDenied("secure sum: a sealed share is truncated");
  const size_t plain_size = sealed.size() - kNonceBytes - kTagBytes;
  Bytes plain(plain_size);
  Bytes tag(sealed.end() - kTagBytes, sealed.end());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), sealed.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &n, sealed.data() + kNonceBytes, static_cast<int>(plain_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain.data() + n, &n) != 1) {
    return PermissionDenied("secure sum: a sealed share does not open: it was altered, or sealed for another site");
  }
  return plain;
}

}  // namespace fedra

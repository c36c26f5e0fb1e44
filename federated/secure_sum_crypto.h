// The cryptography of fedra's secure sum, on OpenSSL's primitives: X25519 key agreement through
// HKDF-SHA256, the masks as AES-128-CTR streams added in Z_2^64 or Z_2^32, and AES-256-GCM to seal the
// secret shares that sites send each other through the master. Sites and master both use it:
// the master expands the seeds that the sites' shares recover.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "federated/shamir.h"

namespace fedra {

struct X25519Keys {
  Secret32 public_key{};
  Secret32 private_key{};
};

Result<X25519Keys> NewX25519Keys();
// The public key of `private_key` (to check that a recovered key is the one advertised).
Result<Secret32> X25519PublicKey(const Secret32& private_key);
// X25519 of our `private_key` with `peer_public`, through HKDF-SHA256 with `purpose` as its
// info, so that one agreement gives independent secrets for independent uses. Both ends get
// the same secret.
Result<Secret32> AgreeSecret(const Secret32& private_key, const Secret32& peer_public, std::string_view purpose);
Result<Secret32> RandomSecret();

// A mask stream: AES-128-CTR under the seed's first half as key and its second half as counter
// block, added to words word by word in the words' ring (Z_2^64 or Z_2^32), or subtracted.
struct Mask {
  Secret32 seed{};
  bool subtract = false;
};

// Adds `from` to `to` word by word in the words' ring, or subtracts it, over the shorter of the
// two: 16 bytes an instruction (GCC 12 at -O2 leaves such a loop scalar).
void AddWords(std::span<uint64_t> to, std::span<const uint64_t> from, bool subtract = false);
void AddWords(std::span<uint32_t> to, std::span<const uint32_t> from, bool subtract = false);

// The streams of some masks, made as they are applied: Apply to successive spans of words is
// ApplyMasks to their concatenation, so a caller can mask words a block at a time as it makes them.
class MaskStreams {
 public:
  // From byte `first_byte` of every stream on (AES-CTR seeks), so that threads can mask parts
  // of one vector of words.
  static Result<MaskStreams> Start(std::span<const Mask> masks, uint64_t first_byte = 0);
  MaskStreams(MaskStreams&&) noexcept;
  MaskStreams& operator=(MaskStreams&&) noexcept;
  ~MaskStreams();

  // Applies every mask's next words.size() words to `words`.
  Status Apply(std::span<uint64_t> words);
  Status Apply(std::span<uint32_t> words);

 private:
  struct Stream;
  MaskStreams() = default;
  template <typename Word>
  Status ApplyTo(std::span<Word> words);

  std::vector<Stream> streams_;
  std::vector<unsigned char> key_stream_;  // one block of one stream
};

// Words a thread masks at least: fewer are not worth a thread's start.
inline constexpr size_t kMaskWordsPerThread = size_t{1} << 18;

// Applies every mask to `words` in one pass over them (a block of words stays in cache while
// each mask's stream is added to it), parts of a long vector on several cores.
Status ApplyMasks(std::span<const Mask> masks, std::span<uint64_t> words);
Status ApplyMasks(std::span<const Mask> masks, std::span<uint32_t> words);
inline Status ApplyMask(const Secret32& seed, std::span<uint64_t> words, bool subtract) {
  const Mask mask{seed, subtract};
  return ApplyMasks(std::span(&mask, 1), words);
}
inline Status ApplyMask(const Secret32& seed, std::span<uint32_t> words, bool subtract) {
  const Mask mask{seed, subtract};
  return ApplyMasks(std::span(&mask, 1), words);
}

// AES-256-GCM under `key` with a fresh random nonce (sent first) and `context` bound in, so a
// sealed share opens only for the session, sender and receiver it was sealed for.
Result<Bytes> Seal(const Secret32& key, std::span<const uint8_t> plain, std::string_view context);
// kPermissionDenied when the text was altered or sealed for another context.
Result<Bytes> Unseal(const Secret32& key, std::span<const uint8_t> sealed, std::string_view context);

}  // namespace fedra

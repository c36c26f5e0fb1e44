#include "federated/shamir.h"

#include <cstring>
#include <set>
#include <string>

#include <openssl/rand.h>

namespace fedra {
namespace {

constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;  // a Mersenne prime: reduction is cheap
constexpr size_t kChunkBytes = 7;                     // 56 bits: every chunk is a field element

uint64_t Reduce(unsigned __int128 v) {
  uint64_t r = static_cast<uint64_t>(v & kPrime) + static_cast<uint64_t>(v >> 61);
  r = (r & kPrime) + (r >> 61);
  return r >= kPrime ? r - kPrime : r;
}
uint64_t Mul(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) * b); }
uint64_t Add(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) + b); }
uint64_t Sub(uint64_t a, uint64_t b) { return Add(a, kPrime - b); }

uint64_t Power(uint64_t base, uint64_t exp) {
  uint64_t result = 1;
  for (; exp > 0; exp >>= 1, base = Mul(base, base)) {
    if (exp & 1) result = Mul(result, base);
  }
  return result;
}
uint64_t Inverse(uint64_t a) { return Power(a, kPrime - 2); }  // Fermat: a != 0

Result<uint64_t> RandomElement() {
  for (;;) {  // rejection sampling keeps the coefficients uniform
    uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
      return Internal("the random generator failed while splitting a secret");
    }
    v >>= 3;
    if (v < kPrime) return v;
  }
}

std::array<uint64_t, SecretShare::kElements> Chunks(const Secret32& secret) {
  std::array<uint64_t, SecretShare::kElements> chunks{};
  for (size_t i = 0; i < chunks.size(); ++i) {
    const size_t begin = i * kChunkBytes;
    std::memcpy(&chunks[i], secret.data() + begin, std::min(kChunkBytes, secret.size() - begin));
  }
  return chunks;
}

}  // namespace

Bytes SecretShare::Encode() const {
  Bytes out;
  ByteWriter w(&out);
  w.Put(x);
  for (uint64_t v : y) w.Put(v);
  return out;
}

Result<SecretShare> SecretShare::Decode(std::span<const uint8_t> bytes) {
  if (bytes.size() != kEncodedBytes) {
    return DataLoss("a secret share takes " + std::to_string(kEncodedBytes) + " bytes, got " +
                    std::to_string(bytes.size()));
  }
  ByteReader r(bytes);
  SecretShare s;
  FEDRA_RETURN_IF_ERROR(r.Get(&s.x));
  for (uint64_t& v : s.y) FEDRA_RETURN_IF_ERROR(r.Get(&v));
  for (uint64_t v : s.y) {
    if (v >= kPrime) return DataLoss("a secret share holds a value outside its field");
  }
  if (s.x == 0) return DataLoss("a secret share at point 0 would be the secret itself");
  return s;
}

Result<std::vector<SecretShare>> SplitSecret(const Secret32& secret, int n, int threshold) {
  if (threshold < 1 || threshold > n || n > 1000) {
    return InvalidArgument("cannot split a secret into " + std::to_string(n) + " shares with threshold " +
                           std::to_string(threshold));
  }
  std::vector<SecretShare> shares(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) shares[static_cast<size_t>(i)].x = static_cast<uint32_t>(i + 1);
  const auto chunks = Chunks(secret);
  std::vector<uint64_t> coefficients(static_cast<size_t>(threshold));
  for (size_t c = 0; c < chunks.size(); ++c) {
    coefficients[0] = chunks[c];
    for (size_t k = 1; k < coefficients.size(); ++k) {
      FEDRA_ASSIGN_OR_RETURN(coefficients[k], RandomElement());
    }
    for (SecretShare& share : shares) {
      uint64_t value = 0;  // Horner's rule at x
      for (size_t k = coefficients.size(); k-- > 0;) value = Add(Mul(value, share.x), coefficients[k]);
      share.y[c] = value;
    }
  }
  return shares;
}

Result<Secret32> CombineShares(std::span<const SecretShare> shares, int threshold) {
  if (threshold < 1 || shares.size() < static_cast<size_t>(threshold)) {
    return FailedPrecondition("a secret needs " + std::to_string(threshold) + " shares to recover, got " +
                              std::to_string(shares.size()));
  }
  const std::span<const SecretShare> used = shares.first(static_cast<size_t>(threshold));
  std::set<uint32_t> points;
  for (const SecretShare& s : used) {
    if (s.x == 0 || !points.insert(s.x).second) return DataLoss("secret shares with the same point");
  }
  std::array<uint64_t, SecretShare::kElements> chunks{};
  for (const SecretShare& i : used) {
    uint64_t basis = 1;  // the Lagrange basis polynomial of point i, at 0
    for (const SecretShare& j : used) {
      if (j.x == i.x) continue;
      basis = Mul(basis, Mul(j.x, Inverse(Sub(j.x, i.x))));
    }
    for (size_t c = 0; c < chunks.size(); ++c) chunks[c] = Add(chunks[c], Mul(i.y[c], basis));
  }
  Secret32 secret{};
  for (size_t c = 0; c < chunks.size(); ++c) {
    const size_t begin = c * kChunkBytes, n = std::min(kChunkBytes, secret.size() - begin);
    if (chunks[c] >> (8 * n) != 0) return DataLoss("the secret shares do not fit together");
    std::memcpy(secret.data() + begin, &chunks[c], n);
  }
  return secret;
}

}  // namespace fedra

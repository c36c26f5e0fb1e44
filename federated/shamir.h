// Shamir's secret sharing of 32-byte secrets (the seeds and keys of a secure sum): any
// `threshold` of the shares give the secret back, fewer say nothing about it. The field is
// GF(2^61 - 1); a secret travels as five elements of seven bytes each (the last one four).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace fedra {

using Secret32 = std::array<uint8_t, 32>;

struct SecretShare {
  static constexpr size_t kElements = 5;
  static constexpr size_t kEncodedBytes = 4 + 8 * kElements;

  uint32_t x = 0;  // the point, 1..n: which share it is
  std::array<uint64_t, kElements> y{};

  Bytes Encode() const;
  static Result<SecretShare> Decode(std::span<const uint8_t> bytes);
};

// `n` shares of `secret`, at x = 1..n, any `threshold` of which recover it. The polynomials'
// coefficients come from OpenSSL's random generator. Needs 1 <= threshold <= n <= 1000.
Result<std::vector<SecretShare>> SplitSecret(const Secret32& secret, int n, int threshold);

// The secret from at least `threshold` shares with distinct points (the first `threshold` are
// used). kDataLoss when the shares do not fit one secret that was split here.
Result<Secret32> CombineShares(std::span<const SecretShare> shares, int threshold);

}  // namespace fedra

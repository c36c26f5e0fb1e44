// The master's half of the secure sum (federated/secure_sum.h): it runs the four phases over
// the federation, relays what sites send each other (sealed, signed: it can neither read nor
// replace it), and from the masked values and the revealed shares computes the sum, which is
// all it learns. Sites that stop answering before they share are left out; those that stop
// after sharing are recovered: their masks are removed and the sum covers the others.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/secure_sum.h"
#include "master/federation/federation.h"

namespace fedra {

struct SecureSumOptions {
  int threshold = 0;       // sites that must see the sum through; 0: a majority, at least 2
  int fraction_bits = 32;  // fixed point: the sum is exact to (sites / 2) x 2^-fraction_bits
  // The fixed point's words: 64 bits, or 32 (half the bytes and mask work; each value must stay
  // under 2^(30 - fraction_bits) / sites).
  int word_bits = 64;
  SecureSumDp dp;  // DP-FedAvg: each site clips and noises its value (federated/secure_sum.h)
  // Called after each phase (keys, shares, mask, unmask) with the sites that answered it: for
  // progress and logs.
  std::function<void(std::string_view phase, size_t answered)> on_phase;
};

struct SecureSumResult {
  Matrix sum;
  std::vector<std::string> summed;     // whose values the sum holds
  std::vector<std::string> recovered;  // shared their secrets, then dropped out: not in the sum
  std::vector<std::string> left_out;   // dropped out before sharing
  double resolution = 0;               // the sum is within this of the exact sum of the values
  uint64_t min_rows = 0;               // the largest row minimum among the summed sites
  uint64_t bytes_up = 0;               // the masked values received
};

// The sum of variable vars[site] over the sites. Fails when fewer than the threshold see it
// through, or when a site refuses (its message says why: privacy, a forged key, a value beyond
// the fixed point's range).
Result<SecureSumResult> SecureSum(Federation& fed, const std::map<std::string, VarId>& vars,
                                  const SecureSumOptions& options = {});

// The threshold `options` gives for `sites` sites.
int SecureSumThreshold(const SecureSumOptions& options, int sites);

}  // namespace fedra

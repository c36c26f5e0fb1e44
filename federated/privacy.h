// Privacy levels of site data, how they propagate to derived variables, what an operation may do
// with protected rows, and the release rule the site applies before any value leaves it. The
// site, never the master, enforces these; docs/privacy.md is the threat model they answer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra {

// Ordered from least to most restrictive; a derived value takes the most restrictive input level.
enum class PrivacyLevel : uint8_t {
  kPublic = 0,            // anything may leave
  kPrivateAggregate = 1,  // only aggregates whose every number sums at least the site's minimum of rows
  kSecureAggregate = 2,   // only aggregates inside a secure sum over enough sites (federated/secure_sum.h)
  kDpAggregate = 3,       // only aggregates with calibrated noise, within the dataset's privacy budget
  kPrivate = 4,           // nothing derived leaves
};

// "public", "private-aggregate", "secure-aggregate", "dp-aggregate", "private".
Result<PrivacyLevel> ParsePrivacyLevel(std::string_view name);
std::string_view PrivacyLevelName(PrivacyLevel level);

// Which rows of the site's data a row-level value holds.
struct RowSet {
  // The dataset the rows come from; empty for values the master sent (puts) and for aggregates.
  std::string dataset;
  // Each row's position in the dataset, in order; null: all its rows, in order.
  std::shared_ptr<const std::vector<uint32_t>> positions;

  bool from_site() const { return !dataset.empty(); }
  bool SameRows(const RowSet& other) const { return dataset == other.dataset && positions == other.positions; }
};

// A closed range of values, for the bounds that dp-aggregate noise is calibrated to.
struct Interval {
  double lo = 0;
  double hi = 0;
};

// Where a variable's values come from, as far as privacy is concerned.
struct Provenance {
  PrivacyLevel level = PrivacyLevel::kPublic;
  // The values summarise rows (colSums, t(X) %*% X) rather than holding one row each.
  bool aggregate = false;
  // For non-public aggregates: the fewest rows behind any number in the value (its effective
  // support: rows that differ from what most rows hold, site-agent/support.h).
  uint64_t support = 0;
  // Dataset(s) the restriction comes from, for messages ("housing").
  std::string source;
  // For row-level values: whose rows.
  RowSet rows;
  // dp-aggregate: the value carries its calibrated noise, so what follows from it may leave.
  bool noised = false;
  // dp-aggregate row-level values: a range for each column, from the owner's declared bounds.
  std::vector<Interval> bounds;
  // Row-level values: arithmetic changed them since they were read (a shift, a scale, a product).
  bool transformed = false;
  // Row-level values: some column combines several columns of the dataset (X %*% V, rowSums,
  // X + Y). A rare column mixed into a common one would escape the row minimum of
  // private-aggregate data, so such values are not summed there.
  bool mixed = false;

  bool protected_rows() const { return level != PrivacyLevel::kPublic && !aggregate; }
};

// How an operation treats the rows of its inputs.
enum class RowEffect : uint8_t {
  kKeepsRows,   // one output row per row of input 0 (X * 2, X %*% V, rowSums)
  kAggregates,  // sums over rows (colSums, t(X) %*% X, the statistics of site functions)
  kPicksRows,   // some of input 0's rows (splitRows); the site chooses them for protected data
};

// What an operation may do with protected row-level inputs.
enum class OnProtectedRows : uint8_t {
  kAllowed,           // linear in the rows: sums, products with broadcast values, picking columns
  kBroadcastOperand,  // X op b for a broadcast b only (X * 2, X / sd)
  kRefused,           // would let the master pick out rows or cells
};

// How a dp-aggregate release of the operation is noised: each names the per-row contribution
// whose range over the input's bounds gives the sensitivity (site-agent/dp_release.h).
enum class DpForm : uint8_t {
  kNone,           // no noised form: refused on dp-aggregate rows
  kSums,           // x: colSums
  kRowTotals,      // sum of a row's values: sum
  kSquares,        // x^2: colSums(X^2)
  kCrossProducts,  // x_j * y_l of input 0 with input 1 (or with itself): t(X) %*% X, t(X) %*% Y
  kMoments,        // (1, x, x^2): the moments function
  kClusterSums,    // (x, 1, |x - c|^2) to the nearest centre of each block: k-means statistics
};

// An operation's privacy behaviour, declared next to its definition (federated/operations.cc,
// site-agent/functions.cc).
struct OperationPrivacy {
  RowEffect effect = RowEffect::kKeepsRows;
  OnProtectedRows on_protected = OnProtectedRows::kAllowed;
  // Bit i set: input i holds one row per row of input 0 whenever it has as many rows (y in
  // t(X) %*% y, the labels of a training step, the operand of X + Y). Aligned inputs must come
  // from the same rows of the same dataset as any protected one.
  uint32_t aligned_inputs = 0;
  DpForm dp = DpForm::kNone;
  // b op X (params.reverse) is as safe as X op b; not for division, since b / X is not linear.
  bool reversible = true;
  // Row-level results: values change (X * 2) or columns combine (X %*% V); picking columns or
  // rows does neither.
  bool changes_values = false;
  bool mixes_columns = false;
  // For kRefused and kBroadcastOperand: what the master could learn otherwise.
  std::string_view risk;
};

// The behaviour of an operation or function that sums over rows, with `aligned` as above.
constexpr OperationPrivacy SumsRows(DpForm dp, uint32_t aligned = 0) {
  OperationPrivacy p;
  p.effect = RowEffect::kAggregates;
  p.aligned_inputs = aligned;
  p.dp = dp;
  return p;
}

// What the rules need to know of one input.
struct InputView {
  const Provenance* provenance;
  int64_t rows;
};

// "dataset 'housing' is private-aggregate": the start of every privacy refusal.
std::string DescribeLevel(const Provenance& p);

// Ok when `name` (with `rule`) may run on `inputs`; otherwise kPermissionDenied saying which
// rule and why. `reversed` is an elementwise op's params.reverse (b op X).
Status CheckProtectedInputs(std::string_view name, const OperationPrivacy& rule, std::span<const InputView> inputs,
                            bool reversed);

// The provenance of an operation's result. For an aggregate of protected rows, `support` is left
// at the smallest support of the protected aggregate inputs (or the maximum); the site lowers it
// to the effective support it measures. kPermissionDenied when inputs under dp-aggregate and
// under private-aggregate meet: their rules cannot both be kept in one result.
Result<Provenance> DeriveProvenance(const OperationPrivacy& rule, std::span<const InputView> inputs);

// Ok when a value of this provenance may leave the site as it is; otherwise kPermissionDenied
// saying why. Secure-aggregate aggregates leave only masked, in a secure sum (CheckSecureRelease).
Status CheckRelease(const Provenance& p, uint64_t min_aggregate_rows);
// Ok when a value of this provenance may go into a secure sum; `*secure_only` says whether it may
// leave only that way (secure-aggregate), where the sum must then cover the site's minimum of sites.
Status CheckSecureRelease(const Provenance& p, uint64_t min_aggregate_rows, bool* secure_only);

}  // namespace fedra

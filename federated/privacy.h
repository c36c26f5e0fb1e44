// Privacy levels of site data, how they propagate to derived variables, and the release rule the
// site applies before any value leaves it. The site, never the master, enforces these.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace fedra {

// Ordered from least to most restrictive; a derived value takes the most restrictive input level.
enum class PrivacyLevel : uint8_t {
  kPublic = 0,            // anything may leave
  kPrivateAggregate = 1,  // only aggregates over at least the site's minimum number of rows
  kPrivate = 2,           // nothing derived leaves
};

Result<PrivacyLevel> ParsePrivacyLevel(std::string_view name);  // "public", "private-aggregate", "private"
std::string_view PrivacyLevelName(PrivacyLevel level);

// Where a variable's values come from, as far as privacy is concerned.
struct Provenance {
  PrivacyLevel level = PrivacyLevel::kPublic;
  // Rows of non-public data each value summarises; 0 means the values are row-level.
  uint64_t aggregated_rows = 0;
  // Dataset(s) the restriction comes from, for messages ("housing").
  std::string source;
};

// The provenance of an operation's result. `input_rows[i]` is the row count of input i;
// `aggregates_rows` says the operation reduces over rows (colSums, t(X) %*% X), so a row-level
// input becomes an aggregate over its rows. Public inputs do not restrict the result.
Provenance DeriveProvenance(std::span<const Provenance> inputs,
                            std::span<const uint64_t> input_rows, bool aggregates_rows);

// Ok when a value of this provenance may leave the site; otherwise kPermissionDenied saying why.
Status CheckRelease(const Provenance& p, uint64_t min_aggregate_rows);

}  // namespace fedra

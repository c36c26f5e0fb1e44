#include "federated/privacy.h"

#include <algorithm>
#include <limits>

namespace fedra {

Result<PrivacyLevel> ParsePrivacyLevel(std::string_view name) {
  if (name == "public") return PrivacyLevel::kPublic;
  if (name == "private-aggregate") return PrivacyLevel::kPrivateAggregate;
  if (name == "private") return PrivacyLevel::kPrivate;
  return InvalidArgument("unknown privacy level '" + std::string(name) +
                         "' (expected public, private-aggregate or private)");
}

std::string_view PrivacyLevelName(PrivacyLevel level) {
  switch (level) {
    case PrivacyLevel::kPublic: return "public";
    case PrivacyLevel::kPrivateAggregate: return "private-aggregate";
    case PrivacyLevel::kPrivate: return "private";
  }
  return "unknown";
}

Provenance DeriveProvenance(std::span<const Provenance> inputs,
                            std::span<const uint64_t> input_rows, bool aggregates_rows) {
  Provenance out;
  uint64_t rows = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Provenance& in = inputs[i];
    if (in.level == PrivacyLevel::kPublic) continue;
    out.level = std::max(out.level, in.level);
    if (out.source.find(in.source) == std::string::npos) {
      out.source += (out.source.empty() ? "" : ", ") + in.source;
    }
    uint64_t covered = in.aggregated_rows;
    if (covered == 0 && aggregates_rows) covered = i < input_rows.size() ? input_rows[i] : 0;
    rows = std::min(rows, covered);
  }
  out.aggregated_rows = out.level == PrivacyLevel::kPublic ? 0 : rows;
  return out;
}

Status CheckRelease(const Provenance& p, uint64_t min_aggregate_rows) {
  switch (p.level) {
    case PrivacyLevel::kPublic:
      return Status::Ok();
    case PrivacyLevel::kPrivate:
      return PermissionDenied("dataset '" + p.source +
                              "' is private: nothing derived from it may leave the site");
    case PrivacyLevel::kPrivateAggregate:
      if (p.aggregated_rows == 0) {
        return PermissionDenied("dataset '" + p.source +
                                "' is private-aggregate: row-level values may not leave the site");
      }
      if (p.aggregated_rows < min_aggregate_rows) {
        return PermissionDenied("dataset '" + p.source + "' is private-aggregate: this aggregate covers " +
                                std::to_string(p.aggregated_rows) + " rows, fewer than the site's minimum of " +
                                std::to_string(min_aggregate_rows));
      }
      return Status::Ok();
  }
  return Internal("unknown privacy level");
}

}  // namespace fedra

#include "federated/privacy.h"

#include <algorithm>
#include <limits>

namespace fedra {

Result<PrivacyLevel> ParsePrivacyLevel(std::string_view name) {
  if (name == "public") return PrivacyLevel::kPublic;
  if (name == "private-aggregate") return PrivacyLevel::kPrivateAggregate;
  if (name == "secure-aggregate") return PrivacyLevel::kSecureAggregate;
  if (name == "dp-aggregate") return PrivacyLevel::kDpAggregate;
  if (name == "private") return PrivacyLevel::kPrivate;
  return InvalidArgument("unknown privacy level '" + std::string(name) +
                         "' (expected public, private-aggregate, secure-aggregate, dp-aggregate or private)");
}

std::string_view PrivacyLevelName(PrivacyLevel level) {
  switch (level) {
    case PrivacyLevel::kPublic: return "public";
    case PrivacyLevel::kPrivateAggregate: return "private-aggregate";
    case PrivacyLevel::kSecureAggregate: return "secure-aggregate";
    case PrivacyLevel::kDpAggregate: return "dp-aggregate";
    case PrivacyLevel::kPrivate: return "private";
  }
  return "unknown";
}

std::string DescribeLevel(const Provenance& p) {
  return "dataset '" + p.source + "' is " + std::string(PrivacyLevelName(p.level));
}

namespace {

Status Refuse(std::string_view name, const Provenance& p, const std::string& why) {
  return PermissionDenied(DescribeLevel(p) + ": " + std::string(name) + " " + why);
}

}  // namespace

Status CheckProtectedInputs(std::string_view name, const OperationPrivacy& rule, std::span<const InputView> inputs,
                            bool reversed) {
  const Provenance* guarded = nullptr;
  for (const InputView& in : inputs) {
    if (in.provenance->protected_rows()) {
      guarded = in.provenance;
      break;
    }
  }
  for (const InputView& in : inputs) {
    if (in.provenance->level == PrivacyLevel::kPrivate) {
      return Refuse(name, *in.provenance, "cannot run on it: nothing is computed from private data for a master");
    }
  }
  if (guarded == nullptr || inputs.empty()) return Status::Ok();
  if (rule.on_protected == OnProtectedRows::kRefused) {
    return Refuse(name, *guarded, "is not allowed on its rows: " + std::string(rule.risk));
  }
  if (rule.effect == RowEffect::kAggregates) {
    for (const InputView& in : inputs) {
      const Provenance& p = *in.provenance;
      if (p.protected_rows() && p.mixed && p.level == PrivacyLevel::kPrivateAggregate) {
        return Refuse(name, p,
                      "cannot sum values whose columns mix several of its columns (X %*% V, rowSums, X + Y): "
                      "a rare column mixed into a common one would escape the row minimum");
      }
    }
  }
  const InputView& first = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    const InputView& in = inputs[i];
    const bool aligned = ((rule.aligned_inputs >> i) & 1u) != 0 && in.rows == first.rows && first.rows > 1;
    const Provenance& a = *first.provenance;
    const Provenance& b = *in.provenance;
    if (!aligned) {
      if (b.protected_rows()) {
        return Refuse(name, b,
                      "cannot take its rows as input " + std::to_string(i) +
                          ": protected rows combine only row by row with the rows of input 0");
      }
      continue;
    }
    if (!a.protected_rows() && !b.protected_rows()) continue;
    const Provenance& other = a.protected_rows() ? b : a;
    if (!other.rows.from_site()) {
      return Refuse(name, *guarded,
                    "cannot combine its rows with row-aligned values from the master or with aggregates: "
                    "one weight or mask per row could single out rows");
    }
    if (!a.rows.SameRows(b.rows)) {
      return Refuse(name, *guarded,
                    "cannot combine rows of '" + a.rows.dataset + "' with other rows of '" + b.rows.dataset +
                        "': they are not the same rows");
    }
    if (rule.on_protected == OnProtectedRows::kBroadcastOperand && a.protected_rows() && b.protected_rows()) {
      return Refuse(name, *guarded, "of two of its row-level values is not allowed: " + std::string(rule.risk));
    }
  }
  if (reversed && !rule.reversible && first.provenance->protected_rows()) {
    return Refuse(name, *first.provenance,
                  "with its rows as the right operand is not allowed: " + std::string(rule.risk));
  }
  return Status::Ok();
}

Result<Provenance> DeriveProvenance(const OperationPrivacy& rule, std::span<const InputView> inputs) {
  Provenance out;
  bool protected_rows = false, private_aggregate = false, secure = false, dp = false, dp_noised = true,
       transformed = false, mixed = false;
  int row_inputs = 0;
  uint64_t support = std::numeric_limits<uint64_t>::max();
  for (const InputView& in : inputs) {
    const Provenance& p = *in.provenance;
    if (p.level == PrivacyLevel::kPublic) continue;
    out.level = std::max(out.level, p.level);
    if (out.source.find(p.source) == std::string::npos) out.source += (out.source.empty() ? "" : ", ") + p.source;
    private_aggregate |= p.level == PrivacyLevel::kPrivateAggregate;
    secure |= p.level == PrivacyLevel::kSecureAggregate;
    if (p.level == PrivacyLevel::kDpAggregate) {
      dp = true;
      dp_noised &= p.aggregate && p.noised;
    }
    if (p.protected_rows()) {
      protected_rows = true;
      transformed |= p.transformed;
      mixed |= p.mixed;
      ++row_inputs;
    } else {
      support = std::min(support, p.support);
    }
  }
  if (int(private_aggregate) + int(secure) + int(dp) > 1 && out.level != PrivacyLevel::kPrivate) {
    return PermissionDenied("datasets '" + out.source +
                            "' are under different aggregate levels (private-aggregate, secure-aggregate, "
                            "dp-aggregate): one result cannot keep more than one rule");
  }
  const bool keeps_rows = rule.effect != RowEffect::kAggregates;
  if (out.level == PrivacyLevel::kPublic) {
    out.aggregate = !keeps_rows;
  } else {
    out.aggregate = !(keeps_rows && protected_rows);
    out.support = out.aggregate ? support : 0;
    out.noised = out.level == PrivacyLevel::kDpAggregate && out.aggregate && dp_noised;
  }
  if (!out.aggregate && !inputs.empty()) out.rows = inputs[0].provenance->rows;
  if (!out.aggregate && protected_rows) {
    out.transformed = transformed || rule.changes_values;
    // X + Y of two row-level values of the same rows combines their columns.
    out.mixed = mixed || rule.mixes_columns || (rule.changes_values && row_inputs > 1);
  }
  return out;
}

Status CheckRelease(const Provenance& p, uint64_t min_aggregate_rows) {
  switch (p.level) {
    case PrivacyLevel::kPublic: return Status::Ok();
    case PrivacyLevel::kPrivate:
      return PermissionDenied(DescribeLevel(p) + ": nothing derived from it may leave the site");
    case PrivacyLevel::kPrivateAggregate:
      if (!p.aggregate) return PermissionDenied(DescribeLevel(p) + ": row-level values may not leave the site");
      if (p.support < min_aggregate_rows) {
        // The count itself is not said: how many rows contribute is data too.
        return PermissionDenied(DescribeLevel(p) +
                                ": some numbers of this aggregate sum fewer rows than the site's minimum of " +
                                std::to_string(min_aggregate_rows));
      }
      return Status::Ok();
    case PrivacyLevel::kSecureAggregate:
      return PermissionDenied(
          DescribeLevel(p) + (p.aggregate ? ": its aggregates leave the site only inside a secure sum over enough sites"
                                          : ": row-level values may not leave the site"));
    case PrivacyLevel::kDpAggregate:
      if (!p.aggregate) return PermissionDenied(DescribeLevel(p) + ": row-level values may not leave the site");
      if (!p.noised)
        return PermissionDenied(DescribeLevel(p) + ": only aggregates with calibrated noise may leave the site");
      return Status::Ok();
  }
  return Internal("unknown privacy level");
}

Status CheckSecureRelease(const Provenance& p, uint64_t min_aggregate_rows, bool* secure_only) {
  *secure_only = p.level == PrivacyLevel::kSecureAggregate;
  if (!*secure_only) return CheckRelease(p, min_aggregate_rows);
  if (!p.aggregate) return PermissionDenied(DescribeLevel(p) + ": row-level values may not leave the site");
  return Status::Ok();
}

}  // namespace fedra

#include "federated/federation_map.h"

namespace fedra {

Result<FederationMap> FederationMap::Make(int64_t rows, int64_t cols, Partitioning partitioning,
                                          std::vector<FederatedPart> parts) {
  if (rows < 0 || cols < 0) {
    return InvalidArgument("federated matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                           " is negative");
  }
  if (parts.empty()) return InvalidArgument("federated matrix has no parts");
  const bool by_row = partitioning == Partitioning::kRow;
  const int64_t extent = by_row ? rows : cols;
  const char* unit = by_row ? "rows" : "columns";
  int64_t next = 0;
  for (const FederatedPart& p : parts) {
    const std::string where = "part at site '" + p.site + "' (" + unit + " " + std::to_string(p.range.begin) + ".." +
                              std::to_string(p.range.end) + ")";
    if (p.range.begin < next) return InvalidArgument(where + " overlaps the part before it");
    if (p.range.begin > next) {
      return InvalidArgument(where + " leaves " + unit + " " + std::to_string(next) + ".." +
                             std::to_string(p.range.begin) + " uncovered");
    }
    if (p.range.end <= p.range.begin) return InvalidArgument(where + " is empty");
    next = p.range.end;
  }
  if (next != extent) {
    return InvalidArgument("parts cover " + std::to_string(next) + " " + unit + " of " + std::to_string(extent));
  }
  FederationMap map;
  map.rows_ = rows;
  map.cols_ = cols;
  map.partitioning_ = partitioning;
  map.parts_ = std::move(parts);
  return map;
}

FederationMap FederationMap::Transposed() const {
  FederationMap t = *this;
  std::swap(t.rows_, t.cols_);
  t.partitioning_ = partitioning_ == Partitioning::kRow ? Partitioning::kColumn : Partitioning::kRow;
  return t;
}

}  // namespace fedra

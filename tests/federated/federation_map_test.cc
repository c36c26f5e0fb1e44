// Federated metadata is validated when it is built: parts must tile the partitioned dimension.
#include <doctest/doctest.h>

#include "federated/federation_map.h"

namespace fedra {

TEST_CASE("federation maps accept exact tilings and reject gaps, overlaps and short coverage") {
  auto part = [](const char* site, int64_t b, int64_t e) { return FederatedPart{site, 1, {b, e}}; };
  CHECK(FederationMap::Make(10, 3, Partitioning::kRow, {part("a", 0, 4), part("b", 4, 10)}).ok());
  CHECK(FederationMap::Make(3, 10, Partitioning::kColumn, {part("a", 0, 10)}).ok());

  Status gap = FederationMap::Make(10, 3, Partitioning::kRow, {part("a", 0, 4), part("b", 5, 10)}).status();
  CHECK(gap.message().find("leaves rows 4..5 uncovered") != std::string::npos);
  Status overlap = FederationMap::Make(10, 3, Partitioning::kRow, {part("a", 0, 5), part("b", 4, 10)}).status();
  CHECK(overlap.message().find("overlaps") != std::string::npos);
  Status shortfall = FederationMap::Make(10, 3, Partitioning::kRow, {part("a", 0, 8)}).status();
  CHECK(shortfall.message().find("cover 8 rows of 10") != std::string::npos);
  CHECK_FALSE(FederationMap::Make(10, 3, Partitioning::kRow, {}).ok());
  CHECK_FALSE(FederationMap::Make(-1, 3, Partitioning::kRow, {part("a", 0, 1)}).ok());
  CHECK_FALSE(FederationMap::Make(0, 3, Partitioning::kRow, {part("a", 0, 0)}).ok());
}

TEST_CASE("transposing a map swaps the shape and the partitioning and keeps the parts") {
  Result<FederationMap> map = FederationMap::Make(10, 3, Partitioning::kRow, {{"a", 7, {0, 4}}, {"b", 8, {4, 10}}});
  REQUIRE(map.ok());
  const FederationMap t = map->Transposed();
  CHECK(t.rows() == 3);
  CHECK(t.cols() == 10);
  CHECK(t.partitioning() == Partitioning::kColumn);
  REQUIRE(t.parts().size() == 2);
  CHECK(t.parts()[1].site == "b");
  CHECK(t.parts()[1].var == 8);
  CHECK(t.parts()[1].range.begin == 4);
  CHECK(t.Transposed().partitioning() == Partitioning::kRow);
}

}  // namespace fedra

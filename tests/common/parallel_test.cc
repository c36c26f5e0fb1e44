// Work split across cores: every index once, in grain-sized ranges, and the first failure.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "common/parallel.h"

namespace fedra {

TEST_CASE("ranges cover every index once, whole grains each, none empty, and report the first failure") {
  for (const size_t cores : {size_t{1}, size_t{2}, size_t{5}, size_t{8}, size_t{16}}) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{99}, size_t{100}, size_t{1001}}) {
      CAPTURE(cores);
      CAPTURE(n);
      std::vector<std::atomic<int>> seen(n);
      std::mutex mu;
      std::vector<std::pair<size_t, size_t>> ranges;
      REQUIRE(ForRanges(
                  n, 100,
                  [&](size_t begin, size_t end) {
                    for (size_t i = begin; i < end; ++i) ++seen[i];
                    std::lock_guard lock(mu);
                    ranges.emplace_back(begin, end);
                    return Status::Ok();
                  },
                  cores)
                  .ok());
      for (size_t i = 0; i < n; ++i) CHECK(seen[i] == 1);
      CHECK(ranges.size() <= cores);
      for (const auto& [begin, end] : ranges) {
        CHECK(begin % 100 == 0);
        CHECK((end % 100 == 0 || end == n));
        CHECK((end > begin || n == 0));
      }
    }
  }
  // Every range fails: the one that starts at 0 is reported.
  const Status s = ForRanges(1000, 10, [](size_t begin, size_t) { return Internal("at " + std::to_string(begin)); });
  CHECK(s.message() == "at 0");
}

}  // namespace fedra

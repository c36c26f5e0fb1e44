// Work split across cores: every index once, in grain-sized ranges, and the first failure.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "common/parallel.h"

namespace fedra {

TEST_CASE("ranges cover every index once, whole grains each, and report the first range's failure") {
  for (const size_t n : {size_t{0}, size_t{1}, size_t{99}, size_t{100}, size_t{1001}}) {
    CAPTURE(n);
    std::vector<std::atomic<int>> seen(n);
    std::mutex mu;
    std::vector<std::pair<size_t, size_t>> ranges;
    REQUIRE(ForRanges(n, 100, [&](size_t begin, size_t end) {
              for (size_t i = begin; i < end; ++i) ++seen[i];
              std::lock_guard lock(mu);
              ranges.emplace_back(begin, end);
              return Status::Ok();
            }).ok());
    for (size_t i = 0; i < n; ++i) CHECK(seen[i] == 1);
    CHECK(ranges.size() <= std::max(1u, std::thread::hardware_concurrency()));
    for (const auto& [begin, end] : ranges) CHECK((begin % 100 == 0 && (end % 100 == 0 || end == n)));
  }
  // Every range fails: the one that starts at 0 is reported.
  const Status s = ForRanges(1000, 10, [](size_t begin, size_t) { return Internal("at " + std::to_string(begin)); });
  CHECK(s.message() == "at 0");
}

}  // namespace fedra

#include "common/parallel.h"

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace fedra {

Status ForRanges(size_t n, size_t grain, const std::function<Status(size_t begin, size_t end)>& body, size_t cores) {
  grain = std::max<size_t>(grain, 1);
  const size_t grains = std::max<size_t>((n + grain - 1) / grain, 1);
  cores = std::clamp<size_t>(cores > 0 ? cores : std::thread::hardware_concurrency(), 1, grains);
  // Whole grains per range, and as many ranges as that takes: none is left empty.
  const size_t per_range = (grains + cores - 1) / cores;
  const size_t ranges = (grains + per_range - 1) / per_range, span = per_range * grain;
  std::vector<Status> results(ranges);
  const auto run = [&](size_t r) {
    const size_t begin = std::min(n, r * span), end = std::min(n, begin + span);
    try {
      results[r] = body(begin, end);
    } catch (const std::bad_alloc&) {
      results[r] = ResourceExhausted("out of memory");
    } catch (const std::exception& e) {
      results[r] = Internal(std::string("a parallel task failed: ") + e.what());
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(ranges);
  for (size_t r = 1; r < ranges; ++r) {
    try {
      threads.emplace_back(run, r);
    } catch (...) {
      run(r);  // no thread to be had: this one does the range
    }
  }
  run(0);
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace fedra

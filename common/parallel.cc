#include "common/parallel.h"

#include <algorithm>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace fedra {

Status ForRanges(size_t n, size_t grain, const std::function<Status(size_t begin, size_t end)>& body) {
  grain = std::max<size_t>(grain, 1);
  const size_t grains = (n + grain - 1) / grain;
  const size_t ranges = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(grains, 1));
  const size_t span = (grains + ranges - 1) / ranges * grain;
  std::vector<Status> results(ranges);
  const auto run = [&](size_t r) {
    const size_t begin = std::min(n, r * span), end = std::min(n, begin + span);
    try {
      results[r] = body(begin, end);
    } catch (const std::bad_alloc&) {
      results[r] = ResourceExhausted("out of memory");
    }
  };
  std::vector<std::thread> threads;
  for (size_t r = 1; r < ranges; ++r) {
    try {
      threads.emplace_back(run, r);
    } catch (const std::system_error&) {
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

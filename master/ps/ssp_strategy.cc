// Stale-synchronous with bound s: updates are applied as they arrive (as asp), but a site may
// start a round only while it is at most s rounds ahead of the slowest site still taking part.
// s = 0 gives bsp's schedule with asp's one-by-one application.
#include <algorithm>

#include "master/ps/update_strategy.h"

namespace fedra {
namespace {

class SspStrategy final : public UpdateStrategy {
 public:
  SspStrategy(int sites, int staleness) : UpdateStrategy(sites), staleness_(staleness) {}

  bool asynchronous() const override { return true; }

  bool MayStart(int site, const SiteProgress& progress) const override {
    int64_t slowest = progress.done[static_cast<size_t>(site)];
    for (size_t j = 0; j < progress.done.size(); ++j) {
      if (!progress.dropped[j]) slowest = std::min(slowest, progress.done[j]);
    }
    return progress.done[static_cast<size_t>(site)] - slowest <= staleness_;
  }

  std::vector<ArrivedUpdate> Arrived(ArrivedUpdate update) override {
    std::vector<ArrivedUpdate> now;
    now.push_back(std::move(update));
    return now;
  }
  std::vector<ArrivedUpdate> Dropped(int) override { return {}; }

 private:
  int staleness_;
};

}  // namespace

std::unique_ptr<UpdateStrategy> MakeSspStrategy(int sites, int staleness) {
  return std::make_unique<SspStrategy>(sites, staleness);
}

}  // namespace fedra

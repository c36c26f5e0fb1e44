// Asynchronous: no site ever waits for another; each update is applied the moment it arrives,
// to whatever the model has become since the site was sent it.
#include "master/ps/update_strategy.h"

namespace fedra {
namespace {

class AspStrategy final : public UpdateStrategy {
 public:
  using UpdateStrategy::UpdateStrategy;

  bool asynchronous() const override { return true; }
  bool MayStart(int, const SiteProgress&) const override { return true; }
  std::vector<ArrivedUpdate> Arrived(ArrivedUpdate update) override {
    std::vector<ArrivedUpdate> now;
    now.push_back(std::move(update));
    return now;
  }
  std::vector<ArrivedUpdate> Dropped(int) override { return {}; }
};

}  // namespace

std::unique_ptr<UpdateStrategy> MakeAspStrategy(int sites) { return std::make_unique<AspStrategy>(sites); }

}  // namespace fedra

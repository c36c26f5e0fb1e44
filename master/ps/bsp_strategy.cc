// Bulk-synchronous: a round starts every site on the same model and ends when each has
// delivered or dropped out; then all the round's updates are applied together.
#include <set>

#include "master/ps/update_strategy.h"

namespace fedra {
namespace {

class BspStrategy final : public UpdateStrategy {
 public:
  explicit BspStrategy(int sites) : UpdateStrategy(sites), last_started_(static_cast<size_t>(sites), -1) {}

  bool asynchronous() const override { return false; }

  bool MayStart(int site, const SiteProgress& progress) const override {
    return last_started_[static_cast<size_t>(site)] < progress.version;  // once per round
  }

  void Started(int site, int64_t version) override {
    last_started_[static_cast<size_t>(site)] = version;
    waiting_.insert(site);
  }

  std::vector<ArrivedUpdate> Arrived(ArrivedUpdate update) override {
    waiting_.erase(update.site);
    round_.push_back(std::move(update));
    return CloseIfComplete();
  }

  std::vector<ArrivedUpdate> Dropped(int site) override {
    waiting_.erase(site);
    return CloseIfComplete();
  }

 private:
  std::vector<ArrivedUpdate> CloseIfComplete() {
    if (!waiting_.empty() || round_.empty()) return {};
    return std::exchange(round_, {});
  }

  std::vector<int64_t> last_started_;
  std::set<int> waiting_;
  std::vector<ArrivedUpdate> round_;
};

}  // namespace

std::unique_ptr<UpdateStrategy> MakeBspStrategy(int sites) { return std::make_unique<BspStrategy>(sites); }

}  // namespace fedra

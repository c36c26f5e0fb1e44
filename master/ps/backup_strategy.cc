// Synchronous with b backup sites: every site trains each round, the round is applied as soon
// as all but b of the sites taking part have delivered, and updates that arrive after that
// (computed from an older model) are dropped as late. Stragglers cost nothing but their update.
#include <algorithm>

#include "master/ps/update_strategy.h"

namespace fedra {
namespace {

class BackupStrategy final : public UpdateStrategy {
 public:
  BackupStrategy(int sites, int backup)
      : UpdateStrategy(sites),
        backup_(backup),
        last_started_(static_cast<size_t>(sites), -1),
        active_(static_cast<size_t>(sites), true) {}

  bool asynchronous() const override { return false; }

  bool MayStart(int site, const SiteProgress& progress) const override {
    return last_started_[static_cast<size_t>(site)] < progress.version;
  }

  void Started(int site, int64_t version) override {
    last_started_[static_cast<size_t>(site)] = version;
    active_[static_cast<size_t>(site)] = true;
  }

  std::vector<ArrivedUpdate> Arrived(ArrivedUpdate update) override {
    if (update.version != version_) {
      late_.push_back(update.site);
      return {};
    }
    round_.push_back(std::move(update));
    return CloseIfEnough();
  }

  std::vector<ArrivedUpdate> Dropped(int site) override {
    active_[static_cast<size_t>(site)] = false;
    return CloseIfEnough();
  }

  std::vector<int> TakeLate() override { return std::exchange(late_, {}); }

 private:
  std::vector<ArrivedUpdate> CloseIfEnough() {
    const int active = static_cast<int>(std::count(active_.begin(), active_.end(), true));
    const size_t needed = static_cast<size_t>(std::max(1, active - backup_));
    if (round_.empty() || round_.size() < needed) return {};
    ++version_;
    return std::exchange(round_, {});
  }

  int backup_;
  int64_t version_ = 0;  // the round being collected: updates from older models are late
  std::vector<int64_t> last_started_;
  std::vector<bool> active_;
  std::vector<ArrivedUpdate> round_;
  std::vector<int> late_;
};

}  // namespace

std::unique_ptr<UpdateStrategy> MakeBackupStrategy(int sites, int backup) {
  return std::make_unique<BackupStrategy>(sites, backup);
}

}  // namespace fedra

#include "master/ps/update_strategy.h"

namespace fedra {

Result<std::unique_ptr<UpdateStrategy>> MakeStrategy(const StrategySpec& spec, int sites) {
  if (spec.name == "bsp") return MakeBspStrategy(sites);
  if (spec.name == "asp") return MakeAspStrategy(sites);
  if (spec.name == "ssp") {
    if (spec.staleness < 0) return InvalidArgument("ssp: the staleness bound must be >= 0");
    return MakeSspStrategy(sites, spec.staleness);
  }
  if (spec.name == "backup") {
    if (spec.backup < 1 || spec.backup >= sites) {
      return InvalidArgument("backup: " + std::to_string(spec.backup) + " backup sites of " + std::to_string(sites) +
                             " (at least 1, and fewer than the sites)");
    }
    return MakeBackupStrategy(sites, spec.backup);
  }
  return InvalidArgument("unknown strategy '" + spec.name + "' (bsp, asp, ssp, backup)");
}

}  // namespace fedra

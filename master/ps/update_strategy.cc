#include "master/ps/update_strategy.h"

namespace fedra {

Status CheckStrategy(const StrategySpec& spec) {
  if (spec.name != "bsp" && spec.name != "asp" && spec.name != "ssp" && spec.name != "backup") {
    return InvalidArgument("unknown strategy '" + spec.name + "' (bsp, asp, ssp, backup)");
  }
  if (spec.name == "ssp" && spec.staleness < 0) return InvalidArgument("ssp: the staleness bound must be >= 0");
  return Status::Ok();
}

Result<std::unique_ptr<UpdateStrategy>> MakeStrategy(const StrategySpec& spec, int sites) {
  FEDRA_RETURN_IF_ERROR(CheckStrategy(spec));
  if (spec.name == "bsp") return MakeBspStrategy(sites);
  if (spec.name == "asp") return MakeAspStrategy(sites);
  if (spec.name == "ssp") return MakeSspStrategy(sites, spec.staleness);
  if (spec.backup < 1 || spec.backup >= sites) {
    return InvalidArgument("backup: " + std::to_string(spec.backup) + " backup sites of " + std::to_string(sites) +
                           " (at least 1, and fewer than the sites)");
  }
  return MakeBackupStrategy(sites, spec.backup);
}

}  // namespace fedra

// When sites may start work and which of their updates the parameter server applies together:
//
//   bsp     bulk-synchronous: every round waits for every site, then applies all their updates;
//   asp     asynchronous: a site starts again as soon as it is done; each update is applied as
//           it arrives;
//   ssp     stale-synchronous with bound s: as asp, but no site starts a round more than s
//           rounds ahead of the slowest site (s = 0 is bsp's schedule);
//   backup  synchronous with b backup sites: a round applies the first N - b of the N sites'
//           updates and drops the b late ones.
//
// A strategy is a pure state machine over site indices; the parameter server feeds it events
// and does the waiting. A site that fails is dropped and is no one's barrier until it answers
// again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "master/ps/site_runner.h"

namespace fedra {

// What the parameter server knows of the sites when it asks whether one may start.
struct SiteProgress {
  std::vector<int64_t> done;  // rounds each site has finished (updates it has delivered)
  std::vector<bool> dropped;  // failed last time and not yet answered again
  int64_t version = 0;        // the server's model version: updates applied so far
};

struct ArrivedUpdate {
  int site = 0;
  int64_t version = 0;  // the model version it was computed from
  SiteUpdate update;
};

class UpdateStrategy {
 public:
  explicit UpdateStrategy(int sites) : sites_(sites) {}
  virtual ~UpdateStrategy() = default;

  int sites() const { return sites_; }
  // Whether the server applies updates one by one as they arrive.
  virtual bool asynchronous() const = 0;

  // Whether idle `site` may start its next round now, with the server's current model.
  virtual bool MayStart(int site, const SiteProgress& progress) const = 0;
  virtual void Started(int /*site*/, int64_t /*version*/) {}
  // An update arrives. Returns the updates to apply now as one aggregate (none: wait for more).
  virtual std::vector<ArrivedUpdate> Arrived(ArrivedUpdate update) = 0;
  // `site`'s work failed. Returns updates a barrier no longer needs to wait for, if any.
  virtual std::vector<ArrivedUpdate> Dropped(int site) = 0;
  // Sites whose updates came too late to count since the last call (backup).
  virtual std::vector<int> TakeLate() { return {}; }

 private:
  int sites_;
};

struct StrategySpec {
  std::string name = "bsp";  // bsp, asp, ssp, backup
  int staleness = 0;         // ssp
  int backup = 0;            // backup

  // Whether updates are applied one by one as they arrive (asp, ssp), not a round at a time.
  bool asynchronous() const { return name == "asp" || name == "ssp"; }
};

std::unique_ptr<UpdateStrategy> MakeBspStrategy(int sites);
std::unique_ptr<UpdateStrategy> MakeAspStrategy(int sites);
std::unique_ptr<UpdateStrategy> MakeSspStrategy(int sites, int staleness);
std::unique_ptr<UpdateStrategy> MakeBackupStrategy(int sites, int backup);

// Fails naming what is wrong with the spec on its own: an unknown name, a negative bound.
Status CheckStrategy(const StrategySpec& spec);

// Fails as CheckStrategy does, or when the spec does not fit `sites` (as many backup sites as
// sites, say).
Result<std::unique_ptr<UpdateStrategy>> MakeStrategy(const StrategySpec& spec, int sites);

}  // namespace fedra

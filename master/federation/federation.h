// The master's view of the federation: named sites that answer request batches. Algorithms,
// federated tensors and the parameter server speak only to this interface; how batches reach
// the sites is the implementation's business (tls_federation.h over the network, or sites run
// in the test process).
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/transfer_progress.h"
#include "federated/protocol.h"
#include "master/federation/recipe_book.h"

namespace fedra {

// Requests per site for one step, and what came back.
using SiteRequests = std::map<std::string, std::vector<Request>>;
using SiteResponses = std::map<std::string, Result<std::vector<Response>>>;

// Site variables nobody at the master refers to any more, waiting to be cleared. Shared with the
// handles that release into it, so a handle may outlive its federation.
class ReleaseQueue {
 public:
  void Add(const std::string& site, VarId var);
  std::vector<VarId> Take(const std::string& site);
  bool empty() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<VarId>> vars_;
};

// Who is told how long transfers to and from sites go (common/transfer_progress.h): the job's run
// while one works (the job runner runs one job at a time). Shared by a federation and its
// subsets; reports come from I/O threads.
class TransferWatch {
 public:
  using Listener = std::function<void(const std::string& site, const TransferProgress& progress)>;
  // Replaces the listener (empty: none); returns once no report is still going to the old one.
  void Set(Listener listener);
  void Report(const std::string& site, const TransferProgress& progress) const;

 private:
  mutable std::mutex mu_;
  Listener listener_;  // guarded by mu_
};

class Federation {
 public:
  virtual ~Federation() = default;
  Federation(const Federation&) = delete;
  Federation& operator=(const Federation&) = delete;

  const std::vector<std::string>& site_names() const { return site_names_; }

  // Sends each site its batch, all sites in parallel, and waits for every answer (each call has
  // its own deadline). Unknown site names give a kNotFound result for that entry. Calls from
  // several threads run at once, also to the same site: each waits only for its own answers.
  // Variables released since the last batch to a site are cleared at the start of this one, so
  // releases cost no round trip of their own. Requests passed as an rvalue are moved into their
  // batches, values and all.
  SiteResponses Call(SiteRequests requests);

  // The same requests to every site.
  SiteResponses CallAll(const std::vector<Request>& requests);

  // Marks a site variable as no longer needed: it is cleared with the next batch to its site.
  void Release(const std::string& site, VarId var) { releases_->Add(site, var); }
  const std::shared_ptr<ReleaseQueue>& release_queue() const { return releases_; }
  // Clears every released variable now (one batch per site that has some), e.g. before exit.
  Status FlushReleases();

  // A variable id no other call of this master has used.
  VarId NewVarId() { return (*next_var_)++; }

  // How the live site variables were made. A batch answered by a new incarnation of its site (it
  // restarted, and lost its variables) first has them made again from here; then, if the batch
  // failed for their lack, it runs again. A batch that needed a variable with no recipe fails
  // with kUnavailable naming it (the site is back; a step taken again will work).
  const std::shared_ptr<RecipeBook>& recipes() const { return recipes_; }

  // Where the progress of long transfers (values of 64 MiB or more) is told, by site.
  TransferWatch& transfer_watch() const { return *transfers_; }

  // Request batches sent to `site` so far.
  uint64_t batches_sent(const std::string& site) const;
  // Restarts of `site` this federation has seen (new incarnations).
  uint64_t restarts(const std::string& site) const;

  // What the sites said about the noise they added to dp-aggregate releases since the last call:
  // per site and dataset, the releases, the noise's standard deviations and the budget spent
  // ([{"site", "dataset", "releases", "sigma_min", "sigma_max", "epsilon_spent", ...}]).
  nlohmann::json TakeNoiseReport();

 protected:
  explicit Federation(std::vector<std::string> site_names);
  // A federation of some of `parent`'s sites, sharing its variable ids, releases and recipes, so
  // that matrices made through either may be used through the other.
  Federation(std::vector<std::string> site_names, const Federation& parent);

  // Starts delivering `batch` to `site` (a known one) and returns the answer to come. Call starts
  // every site's batch before it waits for any, so sites work in parallel; `site` and `batch`
  // live until the answer is in.
  virtual std::future<Result<ResponseBatch>> Send(const std::string& site, const RequestBatch& batch) = 0;

 private:
  struct SiteState {
    std::mutex mu;  // guards incarnation, and restoring the site after a restart
    std::atomic<uint64_t> batches_sent{0};
    uint64_t incarnation = 0;  // the last one seen (0: none yet), guarded by mu
    std::atomic<uint64_t> restarts{0};
  };

  // The answer to `batch` from `site`, which answered as a new incarnation: its variables made
  // again (unless `restore` is false: another call did so), and the batch run again if it failed
  // for their lack. Called with the site's lock.
  Result<ResponseBatch> Rejoin(const std::string& site, const RequestBatch& batch, ResponseBatch first, bool restore);
  Result<ResponseBatch> SendAndWait(const std::string& site, const RequestBatch& batch);
  static Result<ResponseBatch> Wait(const std::string& site, std::future<Result<ResponseBatch>>& future);

  void RecordNoise(const std::string& site, const std::vector<Response>& responses);

  const std::vector<std::string> site_names_;
  std::map<std::string, std::unique_ptr<SiteState>> sites_;
  std::atomic<uint64_t> next_batch_{1};
  std::shared_ptr<std::atomic<VarId>> next_var_;
  std::shared_ptr<ReleaseQueue> releases_ = std::make_shared<ReleaseQueue>();
  std::shared_ptr<RecipeBook> recipes_ = std::make_shared<RecipeBook>();
  std::shared_ptr<TransferWatch> transfers_ = std::make_shared<TransferWatch>();
  std::mutex noise_mu_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> noise_;  // guarded by noise_mu_
};

// The first failure in `responses` — a site that could not be reached, or a request it refused —
// as a Status naming the site; Ok when everything succeeded.
Status FirstError(const SiteResponses& responses);

}  // namespace fedra

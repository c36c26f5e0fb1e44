#include "master/federation/federation.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <set>
#include <utility>

#include "common/logging.h"

namespace fedra {

Federation::Federation(std::vector<std::string> site_names)
    : site_names_(std::move(site_names)),
      // Ids start from the clock so that a restarted master does not reuse live ids at a site.
      next_var_(std::make_shared<std::atomic<VarId>>(
          static_cast<VarId>(
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count())
          << 16)) {
  for (const std::string& name : site_names_) sites_.emplace(name, std::make_unique<SiteState>());
}

Federation::Federation(std::vector<std::string> site_names, const Federation& parent)
    : site_names_(std::move(site_names)),
      next_var_(parent.next_var_),
      releases_(parent.releases_),
      recipes_(parent.recipes_),
      transfers_(parent.transfers_) {
  for (const std::string& name : site_names_) sites_.emplace(name, std::make_unique<SiteState>());
}

uint64_t Federation::batches_sent(const std::string& site) const {
  auto it = sites_.find(site);
  return it == sites_.end() ? 0 : it->second->batches_sent.load();
}

uint64_t Federation::restarts(const std::string& site) const {
  auto it = sites_.find(site);
  return it == sites_.end() ? 0 : it->second->restarts.load();
}

void TransferWatch::Set(Listener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void TransferWatch::Report(const std::string& site, const TransferProgress& progress) const {
  std::lock_guard lock(mu_);
  if (listener_) listener_(site, progress);
}

void ReleaseQueue::Add(const std::string& site, VarId var) {
  std::lock_guard lock(mu_);
  vars_[site].push_back(var);
}

std::vector<VarId> ReleaseQueue::Take(const std::string& site) {
  std::lock_guard lock(mu_);
  auto node = vars_.extract(site);
  return node ? std::move(node.mapped()) : std::vector<VarId>{};
}

bool ReleaseQueue::empty() const {
  std::lock_guard lock(mu_);
  return vars_.empty();
}

Status Federation::FlushReleases() {
  if (releases_->empty()) return Status::Ok();
  SiteRequests empty;
  for (const std::string& site : site_names()) empty[site];
  // Call drops sites with nothing to send, so only sites with releases see a batch.
  return FirstError(Call(std::move(empty)));
}

SiteResponses Federation::Call(SiteRequests requests) {
  std::map<std::string, RequestBatch> batches;
  std::map<std::string, uint64_t> sent_to;  // the incarnation each batch was sent to, as known
  std::map<std::string, std::vector<VarId>> released;
  SiteResponses out;
  for (auto& [site, reqs] : requests) {
    auto it = sites_.find(site);
    if (it == sites_.end()) {
      out.emplace(site, NotFound("unknown site '" + site + "'"));
      continue;
    }
    std::vector<VarId>& to_release = released[site] = releases_->Take(site);
    if (reqs.empty() && to_release.empty()) {
      out.emplace(site, std::vector<Response>{});
      continue;
    }
    RequestBatch& batch = batches[site];
    batch.id = next_batch_++;
    batch.requests.reserve(reqs.size() + 1);
    // Releases go first, skipping ids the site no longer holds; their response is dropped below.
    if (!to_release.empty()) batch.requests.push_back(Request::Release(to_release));
    batch.requests.insert(batch.requests.end(), std::make_move_iterator(reqs.begin()),
                          std::make_move_iterator(reqs.end()));
    ++it->second->batches_sent;
    std::lock_guard lock(it->second->mu);
    sent_to[site] = it->second->incarnation;
  }
  std::map<std::string, std::future<Result<ResponseBatch>>> pending;
  for (const auto& [site, batch] : batches) pending.emplace(site, Send(site, batch));
  for (auto& [site, future] : pending) {
    // Each delivery enforces its own deadlines; this wait ends when the slowest site answers or
    // times out.
    Result<ResponseBatch> r = Wait(site, future);
    if (r.ok() && r->incarnation != 0) {
      // Calls to a site run side by side: another may have seen a restart first (and restored
      // the variables, though this batch may have run before they were back), or this answer may
      // come from an incarnation the site has since left.
      SiteState& state = *sites_.at(site);
      std::lock_guard lock(state.mu);
      const uint64_t known = sent_to.at(site), current = state.incarnation, answered = r->incarnation;
      const bool stale = answered == known && current != 0 && current != answered;
      if (!stale) {
        state.incarnation = answered;
        const bool restore = current != 0 && current != answered;  // nobody has restored this one yet
        if (restore || (known != 0 && known != answered)) {
          r = Rejoin(site, batches.at(site), std::move(r).value(), restore);
        }
      }
    }
    const std::vector<VarId>& sent = released[site];
    if (!r.ok()) {
      for (VarId var : sent) releases_->Add(site, var);  // the site never saw them: try again next time
      out.emplace(site, r.status());
      continue;
    }
    if (!sent.empty() && !r->responses.empty()) r->responses.erase(r->responses.begin());
    RecordNoise(site, r->responses);
    out.emplace(site, std::move(r->responses));
  }
  return out;
}

Result<ResponseBatch> Federation::Wait(const std::string& site, std::future<Result<ResponseBatch>>& future) {
  try {
    return future.get();
  } catch (const std::exception& e) {  // a bug or bad_alloc: fail this site's call, not the master
    return Internal("site '" + site + "': " + e.what());
  }
}

Result<ResponseBatch> Federation::Rejoin(const std::string& site, const RequestBatch& batch, ResponseBatch first,
                                         bool restore) {
  if (restore) ++sites_.at(site)->restarts;
  const std::string where = "site '" + site + "' restarted";
  // Did the batch fail for want of variables from before the restart, and can they be made?
  std::set<VarId> made_here;
  bool failed = false, needs_old = false;
  VarId lost = 0;
  for (size_t i = 0; i < batch.requests.size(); ++i) {
    const Request& q = batch.requests[i];
    failed = failed || (i < first.responses.size() && !first.responses[i].status.ok());
    if (q.type == RequestType::kClear) continue;  // releases skip what is gone
    for (VarId in : q.inputs) {
      if (made_here.contains(in)) continue;
      needs_old = true;
      if (lost == 0 && !recipes_->Holds(site, in)) lost = in;
    }
    if (q.output != 0) made_here.insert(q.output);
  }
  const bool again = failed && needs_old && lost == 0;
  const RecipePlan plan = restore ? recipes_->Restore(site) : RecipePlan{};
  if (restore) {
    FEDRA_LOG(kWarn) << where << " (a new incarnation): making its " << plan.variables
                     << " live variable(s) again from their recipes";
  }
  RequestBatch repair{next_batch_++, {}};
  // What the batch made before its inputs turned out missing goes first, as it runs again.
  if (again && !made_here.empty()) repair.requests.push_back(Request::Release({made_here.begin(), made_here.end()}));
  const size_t skip = repair.requests.size();
  repair.requests.insert(repair.requests.end(), plan.requests.begin(), plan.requests.end());
  if (!repair.requests.empty()) {
    Result<ResponseBatch> restored = SendAndWait(site, repair);
    if (!restored.ok()) return restored.status().WithContext(where + ", and its variables could not be made again");
    if (restored->incarnation != first.incarnation) return Unavailable(where + " again while it was being restored");
    const std::vector<Response> answers(restored->responses.begin() + static_cast<std::ptrdiff_t>(skip),
                                        restored->responses.end());
    FEDRA_RETURN_IF_ERROR(plan.Check(site, answers).WithContext("after a restart"));
  }
  if (!failed || !needs_old) return first;
  if (lost != 0) {
    return Unavailable(where + " and lost variable " + std::to_string(lost) +
                       ", which has no recipe (a value of this step); the step can be taken again");
  }
  Result<ResponseBatch> second = SendAndWait(site, batch);
  if (second.ok() && second->incarnation != first.incarnation) return Unavailable(where + " again during the step");
  return second;
}

Result<ResponseBatch> Federation::SendAndWait(const std::string& site, const RequestBatch& batch) {
  std::future<Result<ResponseBatch>> future = Send(site, batch);
  return Wait(site, future);
}

void Federation::RecordNoise(const std::string& site, const std::vector<Response>& responses) {
  for (const Response& r : responses) {
    const auto dp = r.meta.find("dp");
    if (dp == r.meta.end() || !dp->is_object()) continue;
    const auto found = dp->find("sigma");
    const double sigma = found != dp->end() && found->is_number() ? found->get<double>() : 0.0;
    std::lock_guard lock(noise_mu_);
    nlohmann::json& entry = noise_[{site, dp->value("dataset", "")}];
    if (entry.is_null()) {
      entry = {{"site", site},
               {"dataset", dp->value("dataset", "")},
               {"mechanism", dp->value("mechanism", "")},
               {"releases", 0},
               {"sigma_min", sigma},
               {"sigma_max", sigma}};
    }
    entry["releases"] = entry["releases"].get<int64_t>() + 1;
    entry["sigma_min"] = std::min(entry["sigma_min"].get<double>(), sigma);
    entry["sigma_max"] = std::max(entry["sigma_max"].get<double>(), sigma);
    for (const char* key : {"noise_multiplier", "epsilon_spent", "epsilon_budget", "delta"}) {
      if (dp->contains(key)) entry[key] = (*dp)[key];
    }
  }
}

nlohmann::json Federation::TakeNoiseReport() {
  std::lock_guard lock(noise_mu_);
  nlohmann::json out = nlohmann::json::array();
  for (auto& [key, entry] : noise_) out.push_back(std::move(entry));
  noise_.clear();
  return out;
}

SiteResponses Federation::CallAll(const std::vector<Request>& requests) {
  SiteRequests per_site;
  for (const std::string& site : site_names()) per_site[site] = requests;
  return Call(std::move(per_site));
}

Status FirstError(const SiteResponses& responses) {
  for (const auto& [site, result] : responses) {
    if (!result.ok()) return result.status();
    for (const Response& r : *result) {
      if (!r.status.ok()) return r.status.WithContext("site '" + site + "'");
    }
  }
  return Status::Ok();
}

}  // namespace fedra

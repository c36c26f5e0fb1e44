#include "master/ps/parameter_server.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/logging.h"

namespace fedra {
namespace {

// What happened since the last round record.
struct RoundLog {
  double start = 0;
  double loss = 0, correct = 0, rows = 0;
  double bytes_down = 0, bytes_up = 0;
  int updates = 0;
  nlohmann::json sites = nlohmann::json::object();
  nlohmann::json dropped = nlohmann::json::object();
  std::vector<std::string> late;
  std::vector<std::string> rejoined;  // dropped before, and delivered again
  std::optional<SecureRound> secure;  // the round's secure sum, when there is one

  void AddSecure(const SecureRound& round) {
    rows += round.rows;
    loss += round.loss_sum.value_or(0);
    correct += round.correct.value_or(std::nan(""));
    bytes_up += round.bytes_up;
    updates += static_cast<int>(round.summed.size());
    secure = round;
    secure->step = {};
  }

  void Add(const std::string& site, const SiteUpdate& u) {
    loss += u.loss_sum;
    correct += u.correct;
    rows += u.rows;
    ++updates;
    nlohmann::json& s = sites[site];
    if (s.is_null()) s = {{"loss_sum", 0.0}, {"correct", 0.0}, {"rows", 0.0}};
    s["loss_sum"] = s["loss_sum"].get<double>() + u.loss_sum;
    s["correct"] = s["correct"].get<double>() + u.correct;
    s["rows"] = s["rows"].get<double>() + u.rows;
  }
};

class Server {
 public:
  Server(SiteRunner& runner, UpdateStrategy& strategy, ServerOptimizer& optimizer, Eigen::VectorXf initial,
         const ParameterServerOptions& options)
      : runner_(runner),
        strategy_(strategy),
        optimizer_(optimizer),
        options_(options),
        sites_(runner.sites()),
        params_(std::make_shared<const Eigen::VectorXf>(std::move(initial))),
        busy_(static_cast<size_t>(sites_), false) {
    progress_.done.assign(static_cast<size_t>(sites_), 0);
    progress_.dropped.assign(static_cast<size_t>(sites_), false);
    away_.assign(static_cast<size_t>(sites_), false);
    log_.start = runner_.Now();
  }

  Result<ParameterServerResult> Run() {
    FEDRA_RETURN_IF_ERROR(Resume());
    Launch();
    while (in_flight_ > 0) {
      FinishedWork finished = runner_.Next();
      --in_flight_;
      busy_[static_cast<size_t>(finished.work.site)] = false;
      Handle(std::move(finished));
      Launch();
    }
    if (failure_.ok() && !strategy_.asynchronous() && progress_.version < options_.rounds) {
      failure_ = Unavailable("round " + std::to_string(progress_.version + 1) + ": no site could take part");
    }
    if (!failure_.ok()) return failure_;
    return ParameterServerResult{*params_, std::move(rounds_)};
  }

 private:
  // Goes on from the recovery's checkpoint, if it has one: its parameters, server optimizer and
  // round records, every site level with its last round.
  Status Resume() {
    if (!options_.recovery || !options_.recovery->resume) return Status::Ok();
    const TrainingCheckpoint& c = *options_.recovery->resume;
    if (c.parameters.size() != params_->size()) {
      return FailedPrecondition("the checkpoint holds " + std::to_string(c.parameters.size()) +
                                " parameters, the model " + std::to_string(params_->size()));
    }
    if (c.round > options_.rounds) {
      return FailedPrecondition("the checkpoint is of round " + std::to_string(c.round) + " of " +
                                std::to_string(options_.rounds));
    }
    FEDRA_RETURN_IF_ERROR(optimizer_.Restore(c.optimizer).WithContext("checkpoint"));
    params_ = std::make_shared<const Eigen::VectorXf>(c.parameters);
    rounds_ = c.rounds;
    progress_.version = c.round;
    progress_.done.assign(static_cast<size_t>(sites_), c.round);
    FEDRA_LOG(kInfo) << "going on from the checkpoint of round " << c.round << " of " << options_.rounds;
    return Status::Ok();
  }

  void SaveCheckpoint(int64_t round) {
    const TrainingRecovery* r = options_.recovery;
    if (!r || !r->save) return;
    // By default about a hundred per run: each holds every round's record so far.
    const int64_t every = r->every > 0 ? r->every : std::max(options_.rounds / 100, int64_t{1});
    if (round % every != 0 && round != options_.rounds) return;
    const Status saved = r->save(TrainingCheckpoint{round, *params_, optimizer_.State(), rounds_, r->model});
    // The training goes on without it: a later one may succeed, and only a restart needs one.
    if (!saved.ok()) FEDRA_LOG(kWarn) << "round " << round << ": checkpoint not saved: " << saved.message();
  }

  // The fewest rounds any site still taking part has finished (all rounds when none is left).
  int64_t SlowestActive() const {
    int64_t slowest = options_.rounds;
    for (int s = 0; s < sites_; ++s) {
      if (!progress_.dropped[static_cast<size_t>(s)])
        slowest = std::min(slowest, progress_.done[static_cast<size_t>(s)]);
    }
    return slowest;
  }

  int64_t RoundsDone() const { return strategy_.asynchronous() ? SlowestActive() : progress_.version; }

  bool HasRoundsLeft(int site) const {
    return strategy_.asynchronous() ? progress_.done[static_cast<size_t>(site)] < options_.rounds
                                    : progress_.version < options_.rounds;
  }

  void Launch() {
    if (!failure_.ok()) return;
    for (int s = 0; s < sites_; ++s) {
      const size_t i = static_cast<size_t>(s);
      if (busy_[i] || progress_.dropped[i] || !HasRoundsLeft(s) || !strategy_.MayStart(s, progress_)) continue;
      strategy_.Started(s, progress_.version);
      busy_[i] = true;
      ++in_flight_;
      const int64_t step = strategy_.asynchronous() ? progress_.done[i] : progress_.version;
      runner_.Start(SiteWork{s, step, progress_.version, params_});
    }
  }

  void Handle(FinishedWork finished) {
    const int s = finished.work.site;
    const std::string& name = runner_.site_name(s);
    if (!finished.update.ok()) {
      const Status& status = finished.update.status();
      if (!SitsOut(status)) {
        if (failure_.ok()) failure_ = status.WithContext("round " + std::to_string(RoundsDone() + 1));
        return;
      }
      FEDRA_LOG(kWarn) << "round " << RoundsDone() + 1 << ": dropped site '" << name << "': " << status.message();
      progress_.dropped[static_cast<size_t>(s)] = true;
      away_[static_cast<size_t>(s)] = true;
      log_.dropped[name] = status.message();
      CheckQuorum();
      Apply(strategy_.Dropped(s));
    } else {
      SiteUpdate& u = *finished.update;
      if (!options_.secure_aggregate && u.values.size() != params_->size()) {
        if (failure_.ok()) failure_ = DataLoss("site '" + name + "' returned an update of the wrong size");
        return;
      }
      ++progress_.done[static_cast<size_t>(s)];
      if (away_[static_cast<size_t>(s)]) {
        away_[static_cast<size_t>(s)] = false;
        log_.rejoined.push_back(name);
        FEDRA_LOG(kInfo) << "round " << RoundsDone() + 1 << ": site '" << name << "' is back";
      }
      log_.bytes_down += static_cast<double>(u.bytes_down);
      log_.bytes_up += static_cast<double>(u.bytes_up);
      Apply(strategy_.Arrived(ArrivedUpdate{s, finished.work.version, std::move(u)}));
    }
    for (int late : strategy_.TakeLate()) log_.late.push_back(runner_.site_name(late));
    if (strategy_.asynchronous()) {
      while (failure_.ok() && RoundsDone() > static_cast<int64_t>(rounds_.size())) Record();
    }
  }

  void CheckQuorum() {
    const int left = static_cast<int>(std::count(progress_.dropped.begin(), progress_.dropped.end(), false));
    if (left >= options_.quorum || !failure_.ok()) return;
    std::string reasons;
    for (const auto& [site, why] : log_.dropped.items()) {
      reasons += (reasons.empty() ? "" : "; ") + site + ": " + why.get<std::string>();
    }
    failure_ = Unavailable("round " + std::to_string(RoundsDone() + 1) + ": " + std::to_string(left) + " of " +
                           std::to_string(sites_) + " sites left, below the quorum of " +
                           std::to_string(options_.quorum) + " (" + reasons + ")");
  }

  void Apply(std::vector<ArrivedUpdate> batch) {
    if (batch.empty() || !failure_.ok()) return;
    // In site order, not arrival order: the same sums, rounded the same way, on every run.
    std::sort(batch.begin(), batch.end(),
              [](const ArrivedUpdate& a, const ArrivedUpdate& b) { return a.site < b.site; });
    std::vector<const SiteUpdate*> updates;
    int epoch = 0;
    for (const ArrivedUpdate& a : batch) {
      updates.push_back(&a.update);
      if (!options_.secure_aggregate) log_.Add(runner_.site_name(a.site), a.update);
      epoch = std::max(epoch, a.update.epoch);
    }
    Eigen::VectorXf step;
    if (options_.secure_aggregate) {
      Result<SecureRound> round = options_.secure_aggregate(batch);
      if (!round.ok()) {
        failure_ = round.status().WithContext("round " + std::to_string(progress_.version + 1));
        return;
      }
      if (round->step.size() != params_->size()) {
        failure_ = DataLoss("the secure sum of round " + std::to_string(progress_.version + 1) + " has the wrong size");
        return;
      }
      log_.AddSecure(*round);
      step = std::move(round->step);
    } else if (strategy_.asynchronous()) {
      const ArrivedUpdate& a = batch.front();
      const double share = options_.gradients             ? 1.0
                           : options_.site_shares.empty() ? 1.0 / sites_
                                                          : options_.site_shares[static_cast<size_t>(a.site)];
      step = a.update.values * static_cast<float>(share);
    } else {
      step = Aggregate(options_.aggregation, updates);
    }
    Eigen::VectorXf next = *params_;
    optimizer_.Apply(&next, step, epoch);
    params_ = std::make_shared<const Eigen::VectorXf>(std::move(next));
    ++progress_.version;
    if (!strategy_.asynchronous()) Record();
  }

  // Closes a round: its record, progress output, the hook, and another chance for dropped sites.
  void Record() {
    const int64_t round = static_cast<int64_t>(rounds_.size()) + 1;
    const double now = runner_.Now();
    nlohmann::json r = {{"round", round},
                        {"updates", log_.updates},
                        {"bytes_down", log_.bytes_down},
                        {"bytes_up", log_.bytes_up},
                        {"seconds", now - log_.start}};
    IterationMetrics reported = {
        {"bytes_up", log_.bytes_up},
        {"bytes_down", log_.bytes_down},
        {"sites_answered", static_cast<double>(log_.secure ? log_.secure->summed.size() : log_.sites.size())}};
    const bool loss_known = !log_.secure || log_.secure->loss_sum;
    if (log_.secure) {
      const SecureRound& s = *log_.secure;
      r["secure_aggregation"] = {{"sites", s.summed}, {"resolution", s.resolution}};
      if (!s.recovered.empty()) r["secure_aggregation"]["recovered"] = s.recovered;
      if (s.epsilon) {
        r["dp_epsilon"] = *s.epsilon;
        r["dp_delta"] = s.delta;
        reported.emplace_back("dp_epsilon", *s.epsilon);
      }
    }
    if (log_.rows > 0 && loss_known) {
      r["loss"] = log_.loss / log_.rows;
      reported.emplace_back("loss", log_.loss / log_.rows);
      if (options_.accuracy && std::isfinite(log_.correct)) {  // sites withhold it from private-aggregate rows
        r["accuracy"] = log_.correct / log_.rows;
        reported.emplace_back("accuracy", log_.correct / log_.rows);
      }
    }
    nlohmann::json sites = nlohmann::json::object();
    for (const auto& [site, m] : log_.sites.items()) {
      const double rows = m["rows"].get<double>();
      nlohmann::json& out = sites[site] = {{"rows", rows}};
      if (rows <= 0) continue;
      out["loss"] = m["loss_sum"].get<double>() / rows;
      reported.emplace_back("loss@" + site, m["loss_sum"].get<double>() / rows);
      if (options_.accuracy && std::isfinite(m["correct"].get<double>()))
        out["accuracy"] = m["correct"].get<double>() / rows;
    }
    r["sites"] = std::move(sites);
    if (!log_.dropped.empty()) r["dropped"] = log_.dropped;
    if (!log_.late.empty()) r["late"] = log_.late;
    if (!log_.rejoined.empty()) r["rejoined"] = log_.rejoined;
    if (options_.validate) {
      Result<nlohmann::json> scored = options_.validate(params_);
      if (!scored.ok()) {
        failure_ = scored.status().WithContext("round " + std::to_string(round) + ": validation");
        return;
      }
      for (const auto& [key, value] : scored->items()) {
        r[key] = value;
        if (key != "val_rows") reported.emplace_back(key, value.get<double>());
      }
    }
    FEDRA_LOG(kInfo) << "round " << round << ": " << log_.updates << " update(s), training loss "
                     << r.value("loss", 0.0) << (r.contains("val_loss") ? ", validation loss " : "")
                     << (r.contains("val_loss") ? std::to_string(r["val_loss"].get<double>()) : "") << ", "
                     << now - log_.start << " s";
    rounds_.push_back(std::move(r));
    SaveCheckpoint(round);
    log_ = RoundLog{};
    log_.start = now;
    // Dropped sites try again; one that was away rejoins level with the slowest of the others.
    const int64_t slowest = SlowestActive();
    for (int s = 0; s < sites_; ++s) {
      const size_t i = static_cast<size_t>(s);
      if (!progress_.dropped[i]) continue;
      progress_.dropped[i] = false;
      progress_.done[i] = std::max(progress_.done[i], slowest);
    }
    if (Status s = ReportIteration(options_.on_iteration, static_cast<int>(round), reported); !s.ok()) failure_ = s;
  }

  SiteRunner& runner_;
  UpdateStrategy& strategy_;
  ServerOptimizer& optimizer_;
  const ParameterServerOptions& options_;
  const int sites_;
  std::shared_ptr<const Eigen::VectorXf> params_;
  SiteProgress progress_;
  std::vector<bool> busy_;
  std::vector<bool> away_;  // dropped, and not back yet
  int in_flight_ = 0;
  Status failure_;
  RoundLog log_;
  std::vector<nlohmann::json> rounds_;
};

}  // namespace

bool SitsOut(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

Result<ParameterServerResult> RunParameterServer(SiteRunner& runner, UpdateStrategy& strategy,
                                                 ServerOptimizer& optimizer, Eigen::VectorXf initial,
                                                 const ParameterServerOptions& options) {
  if (options.rounds < 1) return InvalidArgument("rounds must be at least 1");
  if (runner.sites() < 1) return InvalidArgument("no sites to train at");
  if (options.quorum < 1) return InvalidArgument("quorum must be at least 1");
  if (options.secure_aggregate && strategy.asynchronous()) {
    return InvalidArgument(
        "secure aggregation sums the updates of a round; an asynchronous strategy applies each "
        "site's update on its own (use bsp or backup)");
  }
  if (options.quorum > runner.sites()) {
    return InvalidArgument("quorum: " + std::to_string(options.quorum) + " sites, but only " +
                           std::to_string(runner.sites()) + " hold data");
  }
  return Server(runner, strategy, optimizer, std::move(initial), options).Run();
}

}  // namespace fedra

#include "master/jobs/run_recorder.h"

#include <cmath>

#include "common/logging.h"
#include "master/jobs/registry.h"
#include "master/jobs/saved_model.h"

namespace fedra {
namespace {

// Iteration metrics go to the database in batches: at most this many points wait, or this long.
constexpr size_t kBatchPoints = 256;
constexpr double kBatchSeconds = 0.5;

class MetricWriter {
 public:
  MetricWriter(ExperimentDb& db, int64_t run) : db_(db), run_(run), last_flush_(UnixSeconds()) {}

  Status Add(const std::string& key, int64_t step, double value) {
    pending_.push_back(MetricPoint{key, step, value, UnixSeconds()});
    if (pending_.size() >= kBatchPoints || pending_.back().time - last_flush_ >= kBatchSeconds) return Flush();
    return Status::Ok();
  }

  Status Flush() {
    last_flush_ = UnixSeconds();
    if (pending_.empty()) return Status::Ok();
    std::vector<MetricPoint> batch;
    batch.swap(pending_);
    return db_.LogMetrics(run_, std::move(batch));
  }

 private:
  ExperimentDb& db_;
  int64_t run_;
  double last_flush_;
  std::vector<MetricPoint> pending_;
};

// Numeric entries of a result's "metrics" object, lists as one point per element.
void AddFinalMetrics(const nlohmann::json& metrics, const std::string& prefix, int64_t step, MetricWriter* out,
                     Status* status) {
  if (!metrics.is_object()) return;
  for (const auto& [key, value] : metrics.items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) continue;  // withheld: NaN or null
    if (Status s = out->Add(prefix + key, step, value.get<double>()); status->ok()) *status = s;
  }
}

// `model` (saved_model.h), as version 1, 2, ... of the run's model `name`.
Status SaveModel(ExperimentDb& db, int64_t run, const std::string& name, const std::optional<nlohmann::json>& model) {
  if (!model) return Status::Ok();
  const std::string text = model->dump();
  return db.SaveModel(run, name, ModelShapes(*model), std::vector<uint8_t>(text.begin(), text.end())).status();
}

// A training run that stopped before its end keeps the model of its last checkpoint.
Status SaveLastCheckpoint(ExperimentDb& db, const JobSpec& job, int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> saved, db.LoadCheckpoint(run));
  if (!saved) return Status::Ok();
  FEDRA_ASSIGN_OR_RETURN(TrainingCheckpoint checkpoint, DecodeCheckpoint(*saved));
  FEDRA_LOG(kInfo) << "run " << run << ": keeping the model of round " << checkpoint.round;
  return SaveModel(db, run, "model", PartialModel(job, checkpoint, run));
}

// "prefix.key" for each leaf of `value` (objects nest; arrays and numbers are leaves).
void Flatten(const nlohmann::json& value, const std::string& prefix, nlohmann::json* out) {
  if (!value.is_object()) {
    (*out)[prefix] = value;
    return;
  }
  for (const auto& [key, v] : value.items()) Flatten(v, prefix.empty() ? key : prefix + "." + key, out);
}

// Every setting of the job, defaults filled in, as flat keys, so that runs compare side by side:
// "lambda", or nn's "model.hidden", "optimizer.lr", "ps.strategy", "ps.compression.topk".
nlohmann::json FlatParams(const JobSpec& job) {
  nlohmann::json params = nlohmann::json::object();
  if (job.IsScript()) {
    for (const auto& [name, value] : job.args) params["$" + name] = value;
    return params;
  }
  const AlgorithmInfo* algorithm = FindAlgorithm(job.algorithm);
  if (algorithm && algorithm->Takes("params")) {
    Result<nlohmann::json> values = ReadParams(algorithm->params, job.params, "params");
    Flatten(values.ok() ? *values : job.params, "", &params);
  } else if (algorithm) {
    for (const ParamInfo& section : algorithm->params) {
      nlohmann::json merged = section.default_value.is_object() ? section.default_value : nlohmann::json::object();
      const nlohmann::json& given = section.name == "model"       ? job.model
                                    : section.name == "optimizer" ? job.optimizer
                                                                  : job.ps;
      merged.update(given);
      Flatten(merged, section.name, &params);
    }
  } else {
    Flatten(job.params, "", &params);
  }
  params["dataset"] = job.dataset;
  if (!job.label.is_null()) params["label"] = job.label;
  if (job.holdout) params["holdout_fraction"] = job.holdout->fraction;
  return params;
}

}  // namespace

Result<int64_t> CreateJobRun(ExperimentDb& db, const JobSpec& job, const nlohmann::json& spec,
                             const std::string& experiment, const std::string& submitted_by, RunStatus status) {
  NewRun run;
  run.experiment = experiment;
  run.name =
      !job.script.empty() ? (job.name.empty() ? "script" : "script " + job.name) : job.algorithm + " on " + job.dataset;
  run.spec = spec;
  run.params = FlatParams(job);
  run.submitted_by = submitted_by;
  run.status = status;
  run.job = true;
  return db.CreateRun(run);
}

RunStatus EndStatus(const Status& s) {
  if (s.ok()) return RunStatus::kFinished;
  return s.code() == StatusCode::kCancelled ? RunStatus::kCancelled : RunStatus::kFailed;
}

TransferWatch::Listener TransferTags(ExperimentDb& db, int64_t run) {
  return [&db, run](const std::string& site, const TransferProgress& progress) {
    db.SetTagsLater(run, {{"fedra.transfer." + site, progress.Describe()}});
  };
}

Result<nlohmann::json> RunRecordedJob(Federation& fed, ExperimentDb& db, const JobSpec& job, int64_t run_id,
                                      bool resume) {
  FEDRA_RETURN_IF_ERROR(db.SetRunStatus(run_id, RunStatus::kRunning));
  fed.transfer_watch().Set(TransferTags(db, run_id));
  struct Unwatch {
    Federation& fed;
    ~Unwatch() { fed.transfer_watch().Set({}); }
  } unwatch{fed};
  TrainingRecovery recovery;
  recovery.save = [&db, run_id](const TrainingCheckpoint& c) {
    return db.SaveCheckpoint(run_id, c.round, EncodeCheckpoint(c));
  };
  nlohmann::json resumed;  // what the result says of the restart
  if (resume) {
    FEDRA_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> saved, db.LoadCheckpoint(run_id));
    resumed = {{"from_round", 0}, {"at", UnixSeconds()}};
    if (saved) {
      Result<TrainingCheckpoint> checkpoint = DecodeCheckpoint(*saved);
      if (checkpoint.ok()) {
        resumed["from_round"] = checkpoint->round;
        recovery.resume = std::move(checkpoint).value();
      } else {
        FEDRA_LOG(kWarn) << "run " << run_id << ": " << checkpoint.status().message() << "; starting it again";
      }
    }
    FEDRA_LOG(kInfo) << "run " << run_id << ": resumed after a restart of the master, from round "
                     << resumed["from_round"];
  }
  MetricWriter metrics(db, run_id);
  auto on_iteration = [&](int iteration, const IterationMetrics& values) -> Status {
    for (const auto& [key, value] : values) FEDRA_RETURN_IF_ERROR(metrics.Add(key, iteration, value));
    FEDRA_ASSIGN_OR_RETURN(bool cancel, db.CancelRequested(run_id));
    if (cancel) return Cancelled("run " + std::to_string(run_id) + " was cancelled");
    return Status::Ok();
  };
  Result<nlohmann::json> result = [&]() -> Result<nlohmann::json> {
    // A defect that throws fails this run, recorded as such, and not the master that runs it.
    try {
      return RunJob(fed, job, on_iteration, &recovery);
    } catch (const std::exception& e) {
      return Internal(std::string("the job stopped on an internal error: ") + e.what());
    }
  }();
  Status recorded;
  if (result.ok() && !resumed.is_null()) (*result)["resumed"] = resumed;
  if (!result.ok()) recorded = SaveLastCheckpoint(db, job, run_id);
  if (result.ok()) {
    for (const auto& [name, model] : SavedModels(job, *result, run_id)) {
      if (Status s = SaveModel(db, run_id, name, model); recorded.ok()) recorded = s;
    }
    const int64_t step = result->value("iterations", 0);
    AddFinalMetrics((*result)["metrics"], "", step, &metrics, &recorded);
    // Training scores its held-out rows every round (val_*); the last round's are those.
    if (result->contains("held_out") && !result->contains("rounds"))
      AddFinalMetrics((*result)["held_out"]["metrics"], "held_out_", step, &metrics, &recorded);
  }
  if (Status s = metrics.Flush(); recorded.ok()) recorded = s;
  Status ended = db.SetRunStatus(run_id, EndStatus(result.status()), result.ok() ? *result : nlohmann::json(nullptr),
                                 result.ok() ? "" : result.status().message());
  if (recorded.ok()) recorded = ended;
  if (!recorded.ok()) {
    FEDRA_LOG(kError) << "recording run " << run_id << ": " << recorded.message();
    if (result.ok()) return recorded.WithContext("recording run " + std::to_string(run_id));
  }
  if (result.ok()) (*result)["run_id"] = run_id;
  return result;
}

}  // namespace fedra

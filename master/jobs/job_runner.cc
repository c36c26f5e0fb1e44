#include "master/jobs/job_runner.h"

#include <chrono>

#include "common/allocator.h"
#include "common/logging.h"
#include "master/jobs/model_job.h"
#include "master/jobs/run_recorder.h"

namespace fedra {

JobRunner::JobRunner(Federation& fed, ExperimentDb& db) : fed_(fed), db_(db), thread_([this] { Loop(); }) {}

JobRunner::~JobRunner() {
  int64_t running = 0;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    running = running_;
  }
  if (running != 0) (void)db_.RequestCancel(running);
  cv_.notify_all();
  thread_.join();
}

Result<int64_t> JobRunner::Submit(const nlohmann::json& spec, const std::string& submitted_by) {
  if (!spec.is_object()) return InvalidArgument("the job spec must be a JSON object");
  nlohmann::json job_doc = spec;
  std::string experiment = "default";
  if (auto it = job_doc.find("experiment"); it != job_doc.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return InvalidArgument("job: experiment: expected a non-empty string");
    }
    experiment = it->get<std::string>();
    job_doc.erase(it);
  }
  FEDRA_RETURN_IF_ERROR(ResolveSavedModel(db_, &job_doc));
  FEDRA_ASSIGN_OR_RETURN(JobSpec job, ParseJobSpec(job_doc, "job"));
  FEDRA_RETURN_IF_ERROR(CheckJobData(fed_, job).WithContext("job"));
  FEDRA_ASSIGN_OR_RETURN(int64_t run, CreateJobRun(db_, job, job_doc, experiment, submitted_by, RunStatus::kScheduled));
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Queued{run, std::move(job)});
  }
  cv_.notify_one();
  FEDRA_LOG(kInfo) << "run " << run << " (" << job_doc.value("algorithm", "") << ") scheduled by " << submitted_by;
  return run;
}

JobRunner::Timings JobRunner::timings() const {
  std::lock_guard lock(mu_);
  return timings_;
}

Status JobRunner::TakeUpLeftActive() {
  FEDRA_ASSIGN_OR_RETURN(std::vector<ActiveJob> left, db_.ListActiveJobs());
  for (ActiveJob& a : left) {
    Result<JobSpec> job = ParseJobSpec(a.spec, "run " + std::to_string(a.run));
    if (!job.ok()) {
      FEDRA_RETURN_IF_ERROR(db_.SetRunStatus(a.run, RunStatus::kFailed, nullptr,
                                             "cannot be taken up after a restart: " + job.status().message()));
      continue;
    }
    FEDRA_LOG(kInfo) << "run " << a.run << " (" << job->algorithm << "), " << (a.started ? "running" : "scheduled")
                     << " when the master stopped, is queued again";
    std::lock_guard lock(mu_);
    queue_.push_back(Queued{a.run, std::move(job).value(), a.started});
  }
  cv_.notify_one();
  return Status::Ok();
}

void JobRunner::Loop() {
  for (;;) {
    Queued next;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      running_ = next.run;
    }
    Result<bool> cancelled = db_.CancelRequested(next.run);
    if (cancelled.ok() && *cancelled) {
      (void)db_.SetRunStatus(next.run, RunStatus::kCancelled, nullptr, "cancelled before it started");
      std::lock_guard lock(mu_);
      running_ = 0;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    Result<nlohmann::json> result = RunRecordedJob(fed_, db_, next.job, next.run, next.resume);
    {
      std::lock_guard lock(mu_);
      running_ = 0;
      auto& [count, seconds] = timings_.jobs[std::string(RunStatusName(EndStatus(result.status())))];
      ++count;
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (const nlohmann::json& round :
           result.ok() ? result->value("rounds", nlohmann::json::array()) : nlohmann::json::array()) {
        if (!round.contains("seconds")) continue;
        ++timings_.rounds;
        timings_.round_seconds += round["seconds"].get<double>();
      }
    }
    ReturnFreedMemory();  // what the job's buffers took, kept for reuse while it ran
    if (result.ok()) {
      FEDRA_LOG(kInfo) << "run " << next.run << " finished";
    } else {
      FEDRA_LOG(kWarn) << "run " << next.run << ": " << result.status().message();
    }
  }
}

}  // namespace fedra

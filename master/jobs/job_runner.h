// Runs submitted jobs in the background, one at a time (the federation serves one step at a
// time anyway), recording each as a run. Submitting returns at once with the run's id; the run
// is "scheduled" until the runner reaches it. A cancel request stops a scheduled job before it
// starts and a running one at its next iteration boundary.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "master/federation/federation.h"
#include "master/jobs/job.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

class JobRunner {
 public:
  JobRunner(Federation& fed, ExperimentDb& db);
  // Cancels the running job (it stops at its next iteration boundary) and waits for it; queued
  // jobs stay scheduled, for the next serve to take up (TakeUpLeftActive).
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Validates `spec` (a job spec, optionally with "experiment") and queues it; returns the run id.
  Result<int64_t> Submit(const nlohmann::json& spec, const std::string& submitted_by);

  // Queues the jobs a stopped master left scheduled or running, oldest first: training goes on
  // from its last checkpoint, other running jobs run again from the start. A job whose spec no
  // longer parses is marked failed with the reason.
  Status TakeUpLeftActive();

  // Time spent in jobs that ended since the runner started, by how they ended, and in their
  // training rounds: for GET /api/v1/metrics.
  struct Timings {
    std::map<std::string, std::pair<uint64_t, double>> jobs;  // status -> (count, seconds)
    uint64_t rounds = 0;
    double round_seconds = 0;
  };
  Timings timings() const;

 private:
  struct Queued {
    int64_t run = 0;
    JobSpec job;
    bool resume = false;
  };
  void Loop();

  Federation& fed_;
  ExperimentDb& db_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  int64_t running_ = 0;  // the run being executed, 0 when idle
  Timings timings_;      // guarded by mu_
  std::thread thread_;
};

}  // namespace fedra

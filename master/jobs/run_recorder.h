// Runs a job as a recorded run of the experiment database: the run is marked running, each
// iteration's metrics are written in batches while it works, and it ends finished (with its
// result and final metrics), failed (with the error) or cancelled. A cancel request recorded in
// the database stops the job at its next iteration boundary.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "master/federation/federation.h"
#include "master/jobs/job.h"
#include "master/tracking/experiment_db.h"

namespace fedra {

// Creates a running run for `job` (spec as submitted in `spec`) in `experiment`.
Result<int64_t> CreateJobRun(ExperimentDb& db, const JobSpec& job, const nlohmann::json& spec,
                             const std::string& experiment, const std::string& submitted_by, RunStatus status);

// How a job that ended with `s` is recorded: finished, cancelled or failed.
RunStatus EndStatus(const Status& s);

// What tells run `run` how long transfers go while its job works: tag "fedra.transfer.<site>"
// holds the site's latest long transfer, say "receiving 52.4 of 100.0 MB in 0.5 s (105 MB/s)".
// Never waits on the disk.
TransferWatch::Listener TransferTags(ExperimentDb& db, int64_t run);

// Runs `job` as run `run_id` and records everything about it. Returns the job's result (with
// "run_id" added) or its error; a failure to record a successful job is an error too.
// Training saves a checkpoint into the database every round; with `resume`, it goes on from the
// run's last one (other algorithms run again from the start), and the result says so.
Result<nlohmann::json> RunRecordedJob(Federation& fed, ExperimentDb& db, const JobSpec& job, int64_t run_id,
                                      bool resume = false);

}  // namespace fedra

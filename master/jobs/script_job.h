// Jobs that run a script (master/script/) instead of a built-in algorithm:
//
//   {"script": "X = read($1)\nprint(colMeans(X))", "args": {"1": "sensors:pressure,load"},
//    "name": "column means", "sites": ["plant-a", "plant-b"]}          (name, sites optional)
//
// Arguments may be strings, numbers or booleans; $1 and $name read them. What the script
// prints and writes goes into the result ("printed", "outputs": {target: text}), never to a file
// the job names; log_metric goes into the run's metrics. A cancel stops it at its next loop
// iteration.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/federation/federation.h"
#include "master/jobs/job.h"
#include "master/ps/iteration_hook.h"

namespace fedra {

// Whether `doc` is a script job (it has "script").
bool IsScriptJob(const nlohmann::json& doc);

// Checks the fields and the script's syntax.
Result<JobSpec> ParseScriptJob(const nlohmann::json& doc, const std::string& source);

// Runs it: {"algorithm": "script", "printed", "outputs", "batches", "instructions", "reused",
// "sites", "seconds"}. log_metric(name, value, step) reports to `on_iteration` as step `step`.
Result<nlohmann::json> RunScriptJob(Federation& fed, const JobSpec& job, const IterationHook& on_iteration);

}  // namespace fedra

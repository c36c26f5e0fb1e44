// Jobs: a JSON spec naming an algorithm, a dataset known to the sites, the label and feature
// columns, and the algorithm's parameters; and the runner that executes one over a federation.
//
//   {"algorithm": "lm",
//    "data": {"dataset": "housing", "label": "price", "features": [...],
//             "transform": {"district": {"coding": "dummy"}, "rooms": {"impute": "median"}},
//             "holdout": {"fraction": 0.2, "seed": 7}},
//    "params": {"lambda": 0.001, "intercept": true},
//    "sites": ["plant-a", "plant-c"]}                          (optional; default: every site)
//
// Columns the sites list as categorical or boolean are dummy-coded unless the transform says
// otherwise (federated/transform.h); a classifier's label is coded 0..K-1 in sorted order. The
// fitted transform is part of the result, and may be given back as a later job's transform.
// Unknown algorithms, fields, columns and parameters are errors that name them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/federation/federation.h"
#include "master/jobs/algorithm.h"
#include "master/ps/checkpoint.h"
#include "master/ps/iteration_hook.h"

namespace fedra {

// Rows held out of training to score the model on: each site sets aside about `fraction` of
// its rows, chosen by a seeded hash of the row index.
struct Holdout {
  double fraction = 0.2;
  uint64_t seed = 1;
};

struct JobSpec {
  std::string algorithm;
  std::string dataset;
  nlohmann::json label;                  // a column name or a 0-based index (optional for pca)
  std::vector<nlohmann::json> features;  // names or indices; empty: every column but the label
  nlohmann::json transform;              // data.transform: {column: spec}, or null
  std::vector<std::string> sites;        // the sites to run on; empty: all of the federation's
  std::optional<Holdout> holdout;
  nlohmann::json params = nlohmann::json::object();
  // nn only: the model, the sites' optimizer and the parameter server's settings.
  nlohmann::json model = nlohmann::json::object();
  nlohmann::json optimizer = nlohmann::json::object();
  nlohmann::json ps = nlohmann::json::object();
  // The algorithm with these parameters parsed into its options (by ParseJobSpec).
  PreparedFit fit;
  // Script jobs (script_job.h; algorithm "script"): the script, its name and arguments, and,
  // from the command line, where its print lines go as they come.
  std::string script;  // never empty in a script job
  std::string name;
  std::map<std::string, std::string> args;
  std::function<void(const std::string&)> on_print;

  // Model jobs (model_job.h; algorithm "evaluate" or "predict"): the saved model, where
  // predictions are kept and whether the sites write them, and the score histograms' bins.
  nlohmann::json saved_model;
  std::string keep_as;
  bool write_output = false;
  int64_t bins = 0;

  bool IsScript() const { return !script.empty(); }
  bool UsesModel() const { return !saved_model.is_null(); }
};

// Checks the spec against the algorithm registry (registry.h) and parses its parameters once; a
// spec with "script" is a script job (script_job.h).
Result<JobSpec> ParseJobSpec(const nlohmann::json& doc, const std::string& source);

// Asks the sites' catalogs whether the job's dataset and columns (its label, features and
// transform, or its model's features) exist, so that a misspelled name is refused when the job
// is submitted rather than when it runs. kInvalidArgument names what is missing; sites that do
// not answer now leave the check to the run. Scripts read what they name as they go.
Status CheckJobData(Federation& fed, const JobSpec& job);

// Reads the dataset at every site (or the job's sites), fits the algorithm, clears the sites'
// variables, and returns the result: coefficients by name, metrics, iterations, rows, seconds,
// and the sites whose rows it covers. Iterative algorithms
// report each iteration to `on_iteration`, which may stop them by returning an error.
// With `recovery`, training saves checkpoints through it and goes on from its checkpoint (other
// algorithms run from the start).
Result<nlohmann::json> RunJob(Federation& fed, const JobSpec& job, const IterationHook& on_iteration = {},
                              const TrainingRecovery* recovery = nullptr);

}  // namespace fedra

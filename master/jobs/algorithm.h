// An algorithm as jobs see it: its name and documentation, the parameters it takes (with their
// defaults, which are its options' defaults), and how a job's parameters become typed options
// bound to a fit. registry.cc lists them all; each lives in its own *_job.cc.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/federation/federation.h"
#include "master/ps/checkpoint.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct JobSpec;

// One parameter, as users see it: in `fedra-master help`, GET /api/v1/algorithms and the
// dashboard's job form.
struct ParamInfo {
  std::string name;
  std::string type;              // "number", "integer", "boolean", "string" or "object"
  nlohmann::json default_value;  // null: required
  double min = 0, max = 0;       // numbers and integers
  std::string doc;
  std::vector<std::string> choices = {};  // strings: the values allowed
};

// What a job's algorithm is fitted on: the rows at the sites and the resolved columns.
struct FitData {
  Federation& fed;
  const FederatedMatrix& data;
  const std::vector<int64_t>& features;
  int64_t label;                    // -1 for algorithms without one
  const FederatedMatrix* held_out;  // rows to score the model on, or null
  const IterationHook& on_iteration;
  std::vector<std::string> classes = {};  // the label's classes, by code, when the job codes it
  // Sites left out because they did not answer when the job started, and the federation that
  // reaches them too: training asks them again every round.
  std::vector<std::string> late = {};
  Federation* all_sites = nullptr;
  const TrainingRecovery* recovery = nullptr;  // checkpoints, for training
  // What the result says of the columns: "features", "label" and the fitted "transform".
  nlohmann::json described = nlohmann::json::object();
};

// A job's algorithm with its options parsed and checked: fits when called.
using PreparedFit = std::function<Result<nlohmann::json>(const FitData&)>;

struct AlgorithmInfo {
  std::string name;
  std::string summary;
  bool needs_label = true;
  bool scores_held_out = true;  // with data.holdout, the result also scores the held-out rows
  // A classifier: the job codes its label 0..K-1 from whatever the labels are (federated/transform.h).
  bool codes_label = false;
  // Where its settings go in a job spec: "params", or the top-level objects nn takes.
  std::vector<std::string> sections = {"params"};
  std::vector<ParamInfo> params;
  // Turns the job's settings into typed options (errors name the field) and binds them to the
  // fit. `values` holds every parameter of "params", checked against `params` (ReadParams),
  // defaults filled in; algorithms without "params" read their own sections from the job.
  std::function<Result<PreparedFit>(const JobSpec& job, const nlohmann::json& values)> prepare;

  bool Takes(std::string_view section) const;

  // {"name", "summary", "label": "required" | "none", "holdout", "sections", "params": [...]}
  nlohmann::json ToJson() const;
};

// Checks `given` (the job's "params" object) against `params`: no unknown field, every required
// one present, types and ranges right. Returns every parameter's value, defaults filled in.
Result<nlohmann::json> ReadParams(const std::vector<ParamInfo>& params, const nlohmann::json& given,
                                  const std::string& where);

}  // namespace fedra

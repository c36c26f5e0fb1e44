// Runs a script over a federation: the control program. Local values live at the master;
// federated matrices are handles to rows at the sites, and operations on them go through the
// compiler's graph (graph.h), which batches, fuses and reuses them. Whatever a site refuses fails
// the script with the site's reason and the script line; every site variable the script made is
// cleared when it ends, whether it succeeded or not.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"
#include "master/federation/federation.h"
#include "master/tensor/federated_matrix.h"

namespace fedra::script {

// What save_model(x, algorithm, features, ...) declared: a model the script fitted, kept with its
// run like the built-in algorithms' models (master/jobs/saved_model.h checks and encodes it).
struct ModelDeclaration {
  std::string name;       // the run's name for it ("model")
  std::string algorithm;  // as the built-in that fits the same model: lm, logreg, kmeans
  Matrix values;          // coefficients (a row per input, the intercept first; a column per class) or centres
  std::string dataset;    // named with the features or label ("DATASET:COLUMN,..."), or empty
  std::vector<std::string> features;
  std::string label;
  bool intercept = false;
  std::vector<std::string> classes;  // logreg's, by code
};

// Where a script's effects go.
struct ScriptIo {
  std::function<Status(const std::string& line)> print;
  // write(x, target, format=): `text` is x formatted (builtins.h, FormatForWrite).
  std::function<Status(const std::string& target, const std::string& text)> write;
  std::function<Status(const std::string& name, double value, int64_t step)> log_metric;
  std::function<Status(const ModelDeclaration& model)> save_model;  // null: declarations are dropped
  // Called at every loop iteration and function call: an error (a cancelled job) stops the script.
  std::function<Status()> check;
};

struct ScriptOptions {
  // $1, $2, ... and $name. Values that read as numbers are numbers, TRUE and FALSE booleans, the
  // rest strings.
  std::map<std::string, std::string> args;
  ScriptIo io;
  // Federated matrices the caller holds already: read(NAME) of one of these names gives it,
  // without asking the sites (for programs and benchmarks that embed scripts).
  std::map<std::string, FederatedMatrix> inputs;
};

struct ScriptReport {
  int64_t batches = 0;       // federated steps (one batch per site involved each)
  int64_t instructions = 0;  // site instructions sent, over all parts
  int64_t reused = 0;        // instructions served from lineage instead
  double seconds = 0;
};

// Parses and runs `source`. Syntax errors point at the spot; runtime errors name the line.
Result<ScriptReport> RunScript(Federation& fed, std::string_view source, const ScriptOptions& options);

// Parses `source` only (for checking a script before it is queued).
Status CheckScript(std::string_view source);

}  // namespace fedra::script

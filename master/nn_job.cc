#include "master/nn_job.h"

#include <cmath>
#include <optional>

#include "common/config.h"
#include "master/fedavg.h"
#include "master/federated_ops.h"

namespace fedra {
namespace {

Result<FedAvgOptions> ParseNn(const JobSpec& job) {
  FedAvgOptions options;
  FEDRA_ASSIGN_OR_RETURN(options.model, ParseModelSpec(job.model, "model"));
  FEDRA_ASSIGN_OR_RETURN(options.optimizer, ParseOptimizerSpec(job.optimizer, "optimizer"));
  JsonFields f(job.ps, "ps");
  FEDRA_RETURN_IF_ERROR(f.status());
  std::string strategy = "bsp", frequency = "epoch", aggregator = "fedavg";
  int64_t epochs = 10, rounds = 0, batch_size = options.batch_size, seed = 1, quorum = 1;
  FEDRA_RETURN_IF_ERROR(f.Optional("strategy", &strategy));
  FEDRA_RETURN_IF_ERROR(f.Optional("frequency", &frequency));
  FEDRA_RETURN_IF_ERROR(f.Optional("aggregator", &aggregator));
  FEDRA_RETURN_IF_ERROR(f.Optional("epochs", &epochs, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("rounds", &rounds, 1, 100000000));
  FEDRA_RETURN_IF_ERROR(f.Optional("batch_size", &batch_size, 1, 1 << 20));
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &seed, 0, int64_t{1} << 62));
  FEDRA_RETURN_IF_ERROR(f.Optional("quorum", &quorum, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (strategy != "bsp") {
    return InvalidArgument(f.Path("strategy") + ": '" + strategy + "' is not available yet (available: bsp)");
  }
  if (aggregator != "fedavg") {
    return InvalidArgument(f.Path("aggregator") + ": '" + aggregator + "' is not available yet (available: fedavg)");
  }
  if (frequency == "epoch") {
    options.rounds = static_cast<int>(epochs);
  } else if (frequency == "batch") {
    // Each round is a fresh local run: a stateful optimizer would restart every round.
    if (options.optimizer.kind == OptimizerKind::kAdam || options.optimizer.momentum > 0) {
      return InvalidArgument(f.Path("frequency") + ": \"batch\" needs sgd without momentum (the sites' optimizer "
                             "state restarts every round)");
    }
    options.per_batch = true;
    if (rounds == 0) return InvalidArgument(f.Path("rounds") + ": required with frequency \"batch\"");
    options.rounds = static_cast<int>(rounds);
  } else {
    return InvalidArgument(f.Path("frequency") + ": unknown frequency '" + frequency + "' (epoch, batch)");
  }
  options.batch_size = static_cast<int>(batch_size);
  options.seed = static_cast<uint64_t>(seed);
  options.quorum = static_cast<int>(quorum);
  return options;
}

}  // namespace

Status CheckNnJob(const JobSpec& job) { return ParseNn(job).status(); }

Result<nlohmann::json> FitNnJob(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                                const std::vector<int64_t>& features, int64_t label, const FederatedMatrix* held_out,
                                const IterationHook& on_iteration) {
  FEDRA_ASSIGN_OR_RETURN(FedAvgOptions options, ParseNn(job));
  options.on_iteration = on_iteration;
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {label}));
  // The data decides the layer shapes; a model that names them must agree.
  int outputs = 1;
  if (options.model.output == OutputKind::kSoftmax) {
    FEDRA_ASSIGN_OR_RETURN(double top, Max(fed, y));
    if (top != std::floor(top) || top < 1 || top > 100000) {
      return InvalidArgument("nn: softmax labels must be integers 0..K-1 with K >= 2 (largest label is " +
                             std::to_string(top) + ")");
    }
    outputs = static_cast<int>(top) + 1;
  }
  if (options.model.inputs != 0 && options.model.inputs != x.cols()) {
    return InvalidArgument("model.inputs: " + std::to_string(options.model.inputs) + ", but the data has " +
                           std::to_string(x.cols()) + " feature columns");
  }
  if (options.model.outputs != 0 && options.model.outputs != outputs) {
    return InvalidArgument("model.outputs: " + std::to_string(options.model.outputs) + ", but the labels give " +
                           std::to_string(outputs));
  }
  options.model.inputs = static_cast<int>(x.cols());
  options.model.outputs = outputs;
  constexpr int64_t kMaxParameters = int64_t{1} << 27;
  if (options.model.parameter_count() > kMaxParameters) {
    return InvalidArgument("model: " + std::to_string(options.model.parameter_count()) + " parameters, more than the " +
                           std::to_string(kMaxParameters) + " a model may have");
  }
  std::optional<FederatedMatrix> val_x, val_y;
  Validation validation;
  if (held_out) {
    FEDRA_ASSIGN_OR_RETURN(val_x, held_out->SelectColumns(fed, features));
    FEDRA_ASSIGN_OR_RETURN(val_y, held_out->SelectColumns(fed, {label}));
    validation = Validation{&*val_x, &*val_y};
  }
  FEDRA_ASSIGN_OR_RETURN(FedAvgResult trained, TrainFedAvg(fed, x, y, options, validation));
  const nlohmann::json& last = trained.rounds.back();
  nlohmann::json metrics = {{"loss", last["loss"]}};
  if (last.contains("accuracy")) metrics["accuracy"] = last["accuracy"];
  nlohmann::json result{{"rows", x.rows()},
                        {"model", options.model.ToJson()},
                        {"optimizer", options.optimizer.ToJson()},
                        {"parameters", std::vector<float>(trained.parameters.data(),
                                                          trained.parameters.data() + trained.parameters.size())},
                        {"metrics", metrics},
                        {"rounds", trained.rounds},
                        {"iterations", static_cast<int>(trained.rounds.size())}};
  if (held_out && last.contains("val_loss")) {  // no metrics when no validation site answered
    nlohmann::json scored = {{"loss", last["val_loss"]}};
    if (last.contains("val_accuracy")) scored["accuracy"] = last["val_accuracy"];
    result["held_out"] = {{"rows", last["val_rows"]}, {"metrics", scored}};
  }
  return result;
}

}  // namespace fedra

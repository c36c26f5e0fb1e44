#include "master/algorithms/federated_training.h"

#include <algorithm>
#include <cmath>

#include "master/algorithms/federation_runner.h"

namespace fedra {
namespace {

// Loss and accuracy of `params` on the validation rows of the sites that answer.
Result<nlohmann::json> Validate(Federation& fed, const Validation& v, const ModelSpec& model,
                                const Eigen::VectorXf& params) {
  const FederatedMatrix::PartOp op{EvalModelParams{model}, v.y, true};
  FEDRA_ASSIGN_OR_RETURN(auto per_part, v.x->RunOnEachPart(fed, {op}, {Matrix(params.cast<double>())}));
  double loss = 0, correct = 0, rows = 0;
  for (const Result<Matrix>& r : per_part[0]) {
    if (!r.ok()) {
      if (SitsOut(r.status())) continue;
      return r.status();
    }
    loss += (*r)(0, 0);
    correct += (*r)(1, 0);
    rows += (*r)(2, 0);
  }
  nlohmann::json out = {{"val_rows", rows}};
  if (rows > 0) {
    out["val_loss"] = loss / rows;
    if (model.output == OutputKind::kSoftmax && std::isfinite(correct)) out["val_accuracy"] = correct / rows;
  }
  return out;
}

}  // namespace

Result<ParameterServerResult> TrainFederated(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                             const TrainingOptions& options, const Validation& validation) {
  if (options.model.inputs != x.cols()) {
    return InvalidArgument("the model takes " + std::to_string(options.model.inputs) + " inputs, the data has " +
                           std::to_string(x.cols()) + " features");
  }
  const bool gradients = options.batches_per_round > 0;
  SiteTrainingSpec spec;
  spec.train.model = options.model;
  spec.train.optimizer = options.optimizer;
  spec.train.batch_size = options.batch_size;
  spec.train.seed = options.seed;
  spec.train.gradient = gradients;
  spec.train.prox_mu = options.prox_mu;
  int64_t smallest = x.rows(), largest = 0;
  for (const FederatedPart& p : x.map().parts()) {
    smallest = std::min(smallest, p.range.size());
    largest = std::max(largest, p.range.size());
  }
  const bool balanced = options.balance.mode != "none";
  if (balanced) {
    spec.train.epoch_rows = options.balance.rows > 0              ? options.balance.rows
                            : options.balance.mode == "subsample" ? smallest
                                                                  : largest;
  }
  spec.batches_per_round = options.batches_per_round;
  spec.epochs_per_round = options.epochs_per_round;
  spec.compression = options.compression;
  FEDRA_ASSIGN_OR_RETURN(auto runner, FederationRunner::Create(fed, x, y, std::move(spec), options.late_sites));

  ParameterServerOptions ps;
  ps.rounds = options.rounds;
  ps.quorum = options.quorum;
  ps.aggregation = options.aggregation;
  ps.gradients = gradients;
  ps.accuracy = options.model.output == OutputKind::kSoftmax;
  ps.on_iteration = options.on_iteration;
  TrainingRecovery recovery;
  if (options.recovery) {
    recovery = *options.recovery;
    if (options.checkpoint_every > 0) recovery.every = options.checkpoint_every;
    recovery.model = options.model_description;
    ps.recovery = &recovery;
  }
  for (int s = 0; s < runner->sites(); ++s) {
    ps.site_shares.push_back(balanced ? 1.0 / runner->sites()
                                      : static_cast<double>(runner->site_rows(s)) / static_cast<double>(x.rows()));
  }
  if (validation.x) {
    ps.validate = [&](const Eigen::VectorXf& params) { return Validate(fed, validation, options.model, params); };
  }
  FEDRA_ASSIGN_OR_RETURN(auto strategy, MakeStrategy(options.strategy, runner->sites()));
  const Eigen::VectorXf initial = InitialParameters(options.model, options.seed);
  std::unique_ptr<ServerOptimizer> optimizer = gradients ? MakeGradientOptimizer(options.optimizer, initial.size())
                                                         : MakeDeltaOptimizer(options.server_optimizer, initial.size());
  return RunParameterServer(*runner, *strategy, *optimizer, initial, ps);
}

}  // namespace fedra

#include "master/algorithms/federated_training.h"

#include <algorithm>
#include <cmath>

#include "federated/rdp_accountant.h"
#include "master/algorithms/federation_runner.h"

namespace fedra {
namespace {

// Loss and accuracy of `params` on the validation rows of the sites that answer. The parameters
// go as float32, as to training (the sites score in float32), and stay at the sites: they are
// the next round's, which trains from them there.
Result<nlohmann::json> Validate(FederationRunner& runner, const Validation& v, const ModelSpec& model,
                                const std::shared_ptr<const Eigen::VectorXf>& params) {
  const FederatedMatrix::PartOp op{EvalModelParams{model}, v.y, true};
  FEDRA_ASSIGN_OR_RETURN(auto per_part, runner.RunWithParameters(*v.x, op, params));
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

// The word size of a job's secure sums: as asked, or by default 32 bits where they hold the mean
// of model deltas of a softmax model (and its mean loss). Gradients (per-batch rounds) have no
// such scale, DP's noise must never meet a range check (a refusal would tell the master about one
// site's update), and fraction bits asked for were chosen for 64-bit words.
int SecureWordBits(const TrainingOptions& options) {
  const SecureTraining& s = options.secure;
  if (s.word_bits > 0) return s.word_bits;
  const bool narrow = options.model.output == OutputKind::kSoftmax && options.batches_per_round == 0 &&
                      !s.dp.enabled() && s.fraction_bits == 0;
  return narrow ? 32 : 64;
}

// The secure sum of a job's rounds: its fixed point for `sites` sites, and its threshold and noise.
SecureSumOptions SecureSumFor(const TrainingOptions& options, int sites) {
  const SecureTraining& s = options.secure;
  SecureSumOptions out;
  out.threshold = s.threshold;
  out.dp = s.dp;
  out.word_bits = SecureWordBits(options);
  if (s.fraction_bits > 0) {
    out.fraction_bits = s.fraction_bits;
  } else if (out.word_bits == 64) {
    out.fraction_bits = 32;
  } else {
    // SecureSumLimit(f, sites, 32) = 2^(30 - f) / sites stays at least 16.
    const int site_bits = static_cast<int>(std::ceil(std::log2(std::max(sites, 1))));
    out.fraction_bits = std::clamp(26 - site_bits, 8, MaxFractionBits(32));
  }
  return out;
}

}  // namespace

Status CheckSecureTraining(const TrainingOptions& options) {
  const SecureTraining& s = options.secure;
  if (!s.enabled) {
    if (s.dp.enabled())
      return InvalidArgument("dp: DP-FedAvg adds its noise inside secure sums; turn on secure_aggregation");
    return Status::Ok();
  }
  if (options.strategy.asynchronous()) {
    return InvalidArgument("secure_aggregation: \"" + options.strategy.name +
                           "\" applies each site's update on its own, which a secure sum hides (use bsp or backup)");
  }
  if (options.aggregation.robust()) {
    return InvalidArgument("secure_aggregation: " + options.aggregation.name +
                           " needs each site's update, and a secure sum shows only their sum (use fedavg)");
  }
  if (!options.compression.as_is()) {
    return InvalidArgument(
        "secure_aggregation: compression changes each update on its own; a secure sum adds whole "
        "updates (clip with dp.clip_norm instead)");
  }
  if (s.word_bits != 0 && s.word_bits != 32 && s.word_bits != 64)
    return InvalidArgument("secure_aggregation.word_bits: must be 32 or 64");
  const int words = SecureWordBits(options);
  if (s.fraction_bits > MaxFractionBits(words)) {
    return InvalidArgument("secure_aggregation: fraction_bits " + std::to_string(s.fraction_bits) + " do not fit " +
                           std::to_string(words) + "-bit words (at most " + std::to_string(MaxFractionBits(words)) +
                           ")");
  }
  if (s.dp.enabled() && s.word_bits == 32) {
    return InvalidArgument(
        "secure_aggregation: DP-FedAvg needs 64-bit words (a site refusing a noised update out of a 32-bit "
        "range would tell the master something of that update)");
  }
  if (s.dp.enabled() && !(s.dp.clip_norm > 0)) return InvalidArgument("dp: clip_norm must be positive");
  if (s.dp.enabled() && !(s.dp_delta > 0 && s.dp_delta < 1)) return InvalidArgument("dp: delta must be in (0, 1)");
  return Status::Ok();
}

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
  FEDRA_RETURN_IF_ERROR(CheckSecureTraining(options));
  spec.secure = options.secure.enabled;
  spec.secure_sum = SecureSumFor(options, static_cast<int>(x.map().parts().size() + options.late_sites.size()));
  if (spec.secure_sum.word_bits == 32) {
    // Every site's weighted update is scaled by 1 / the rows a round trains at all of them, so
    // the sum is about their mean: its range is the updates', whatever the sites' sizes. A late
    // site counts as one of average size. (64-bit words keep rows x delta, as sites before the
    // scale existed send it.)
    double round_rows = 0;
    for (const FederatedPart& p : x.map().parts()) {
      const int64_t epoch_rows = spec.train.epoch_rows > 0 ? spec.train.epoch_rows : p.range.size();
      round_rows += static_cast<double>(gradients ? int64_t{options.batches_per_round} * options.batch_size
                                                  : int64_t{options.epochs_per_round} * epoch_rows);
    }
    const size_t parts = x.map().parts().size();
    if (parts > 0) round_rows *= static_cast<double>(parts + options.late_sites.size()) / static_cast<double>(parts);
    spec.secure_scale = round_rows > 0 ? 1 / round_rows : 1;
  }
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
  RdpAccountant accountant;
  // Noise z C against the sensitivity 2C of replacing one row (the sites charge the same).
  const double multiplier = options.secure.dp.noise_multiplier / 2;
  if (options.secure.dp.enabled() && options.recovery && options.recovery->resume) {
    // The rounds before the checkpoint spent their share too.
    FEDRA_RETURN_IF_ERROR(accountant.Compose(1, multiplier, options.recovery->resume->round));
  }
  if (options.secure.enabled) {
    ps.secure_aggregate = [&](const std::vector<ArrivedUpdate>& round) -> Result<SecureRound> {
      FEDRA_ASSIGN_OR_RETURN(SecureRound r, runner->SecureAggregate(round));
      if (options.secure.dp.enabled()) {
        // Every site takes part in every round: no sampling (q = 1), one Gaussian release.
        FEDRA_RETURN_IF_ERROR(accountant.Compose(1, multiplier, 1));
        FEDRA_ASSIGN_OR_RETURN(DpGuarantee spent, accountant.Spent(options.secure.dp_delta));
        r.epsilon = spent.epsilon;
        r.delta = spent.delta;
      }
      return r;
    };
  }
  if (validation.x) {
    ps.validate = [&](const std::shared_ptr<const Eigen::VectorXf>& params) {
      return Validate(*runner, validation, options.model, params);
    };
  }
  FEDRA_ASSIGN_OR_RETURN(auto strategy, MakeStrategy(options.strategy, runner->sites()));
  const Eigen::VectorXf initial = InitialParameters(options.model, options.seed);
  std::unique_ptr<ServerOptimizer> optimizer = gradients ? MakeGradientOptimizer(options.optimizer, initial.size())
                                                         : MakeDeltaOptimizer(options.server_optimizer, initial.size());
  return RunParameterServer(*runner, *strategy, *optimizer, initial, ps);
}

}  // namespace fedra

// The "nn" job: a model trained where the data lives through the federated parameter server,
// from the job's "model", "optimizer" and "ps" objects:
//
//   {"algorithm": "nn", "data": {"dataset": "fashion", "label": "label"},
//    "model": {"hidden": [128], "activation": "relu", "input_scale": 255},
//    "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
//    "ps": {"strategy": "ssp", "staleness": 2, "frequency": "epoch", "epochs": 20, "batch_size": 32,
//           "aggregator": "fedavg", "compression": {"topk": 0.01}, "seed": 1, "quorum": 2}}
//
// ps fields (all optional):
//   strategy      bsp | asp | ssp (with staleness, default 1) | backup (with backup, default 1)
//   frequency     epoch: a round is local_epochs (1) epochs, `epochs` rounds (10); the sites
//                 send model deltas, which server_optimizer applies (master/ps/server_optimizer.h)
//                 batch: a round is nfetch (1) batches whose gradients accrue; `rounds` rounds;
//                 the server steps with the job's optimizer
//   aggregator    fedavg (sample-weighted mean) | median | trimmed_mean (with trim, 0.1)
//   proximal_mu   FedProx's proximal term (per-epoch rounds)
//   compression   {"topk": fraction, "bits": 8, "clip": norm} (federated/update_codec.h)
//   balance       {"mode": "subsample" | "replicate", "rows": N}: equal rows per site and epoch
//   secure_aggregation  true, or {"threshold": N, "word_bits": 32 | 64, "fraction_bits": F}:
//                 every round's updates are summed securely (master/federation/secure_sum.h);
//                 bsp or backup, fedavg, no compression; per-site loss and accuracy are not seen.
//                 Words and fraction bits default as SecureTraining says
//   dp            {"clip_norm": C, "noise_multiplier": z, "delta": 1e-5}: DP-FedAvg within the
//                 secure sums; each round reports dp_epsilon, and each site charges its own budget
//   batch_size (32), seed (1), quorum (1)
//   checkpoint_every  rounds between the checkpoints a recorded run saves (the latest is kept;
//                 a cancelled or failed run keeps its model); default: a hundredth of the rounds
#include <cmath>
#include <optional>

#include "common/config.h"
#include "master/algorithms/federated_training.h"
#include "master/jobs/job.h"
#include "master/tensor/federated_ops.h"

namespace fedra {
namespace {

Result<TrainingOptions> ParseNn(const JobSpec& job) {
  TrainingOptions options;
  FEDRA_ASSIGN_OR_RETURN(options.model, ParseModelSpec(job.model, "model"));
  FEDRA_ASSIGN_OR_RETURN(options.optimizer, ParseOptimizerSpec(job.optimizer, "optimizer"));
  JsonFields f(job.ps, "ps");
  FEDRA_RETURN_IF_ERROR(f.status());
  std::string frequency = "epoch", aggregator = "fedavg";
  int64_t epochs = 10, rounds = 0, nfetch = 1, local_epochs = 1, batch_size = options.batch_size, seed = 1, quorum = 1,
          staleness = 1, backup = 1;
  double prox_mu = 0;
  FEDRA_RETURN_IF_ERROR(f.Optional("strategy", &options.strategy.name));
  FEDRA_RETURN_IF_ERROR(f.Optional("staleness", &staleness, 0, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("backup", &backup, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("frequency", &frequency));
  FEDRA_RETURN_IF_ERROR(f.Optional("aggregator", &aggregator));
  FEDRA_RETURN_IF_ERROR(f.Optional("trim", &options.aggregation.trim, 0, 0.5));
  FEDRA_RETURN_IF_ERROR(f.Optional("epochs", &epochs, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("local_epochs", &local_epochs, 1, 1000));
  FEDRA_RETURN_IF_ERROR(f.Optional("rounds", &rounds, 1, 100000000));
  FEDRA_RETURN_IF_ERROR(f.Optional("nfetch", &nfetch, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("batch_size", &batch_size, 1, 1 << 20));
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &seed, 0, int64_t{1} << 62));
  FEDRA_RETURN_IF_ERROR(f.Optional("quorum", &quorum, 1, 100000));
  FEDRA_RETURN_IF_ERROR(f.Optional("proximal_mu", &prox_mu, 0, 1e6));
  FEDRA_RETURN_IF_ERROR(f.Optional("checkpoint_every", &options.checkpoint_every, 1, 100000000));
  const nlohmann::json* server_optimizer = f.Child("server_optimizer");
  const nlohmann::json* compression = f.Child("compression");
  const nlohmann::json* balance = f.Child("balance");
  const nlohmann::json* secure = f.Child("secure_aggregation");
  const nlohmann::json* dp = f.Child("dp");
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (secure && secure->is_boolean()) {
    options.secure.enabled = secure->get<bool>();
  } else if (secure) {
    JsonFields s(*secure, f.Path("secure_aggregation"));
    FEDRA_RETURN_IF_ERROR(s.status());
    int64_t threshold = 0, bits = options.secure.fraction_bits, words = 0;  // 0: as SecureTraining says
    FEDRA_RETURN_IF_ERROR(s.Optional("threshold", &threshold, 2, kMaxSecureSumSites));
    FEDRA_RETURN_IF_ERROR(s.Optional("word_bits", &words, 32, 64));
    FEDRA_RETURN_IF_ERROR(s.Optional("fraction_bits", &bits, 8, kMaxFractionBits));
    FEDRA_RETURN_IF_ERROR(s.Finish());
    options.secure.enabled = true;
    options.secure.threshold = static_cast<int>(threshold);
    options.secure.word_bits = static_cast<int>(words);
    options.secure.fraction_bits = static_cast<int>(bits);
  }
  if (dp) {
    JsonFields d(*dp, f.Path("dp"));
    FEDRA_RETURN_IF_ERROR(d.status());
    FEDRA_RETURN_IF_ERROR(d.Required("clip_norm", &options.secure.dp.clip_norm, 1e-9, 1e6));
    FEDRA_RETURN_IF_ERROR(d.Required("noise_multiplier", &options.secure.dp.noise_multiplier, 1e-3, 1e6));
    FEDRA_RETURN_IF_ERROR(d.Optional("delta", &options.secure.dp_delta, 1e-15, 0.1));
    FEDRA_RETURN_IF_ERROR(d.Finish());
  }
  options.strategy.staleness = static_cast<int>(staleness);
  options.strategy.backup = static_cast<int>(backup);
  if (Status s = CheckStrategy(options.strategy); !s.ok())
    return InvalidArgument(f.Path("strategy") + ": " + s.message());
  options.aggregation.name = aggregator == "fedavg" ? "mean" : aggregator;
  if (Status s = CheckAggregation(options.aggregation); !s.ok())
    return InvalidArgument(f.Path("aggregator") + ": " + s.message());
  if (options.strategy.asynchronous() && options.aggregation.robust()) {
    return InvalidArgument(f.Path("aggregator") + ": " + aggregator + " combines the updates of a round, which \"" +
                           options.strategy.name + "\" applies one by one (use bsp or backup)");
  }
  if (frequency == "epoch") {
    options.rounds = epochs;
    options.epochs_per_round = static_cast<int>(local_epochs);
    if (server_optimizer) {
      FEDRA_ASSIGN_OR_RETURN(options.server_optimizer,
                             ParseServerOptimizerSpec(*server_optimizer, f.Path("server_optimizer")));
    }
  } else if (frequency == "batch") {
    // Sites accrue gradients over nfetch batches; the server steps with the job's optimizer.
    if (rounds == 0) return InvalidArgument(f.Path("rounds") + ": required with frequency \"batch\"");
    if (server_optimizer) {
      return InvalidArgument(f.Path("server_optimizer") +
                             ": with frequency \"batch\" the server steps with the "
                             "job's optimizer; a server optimizer applies to per-epoch rounds");
    }
    if (prox_mu > 0) {
      return InvalidArgument(f.Path("proximal_mu") + ": the proximal term needs local steps (frequency \"epoch\")");
    }
    if (rounds * nfetch > (int64_t{1} << 30)) {
      return InvalidArgument(f.Path("rounds") + ": rounds x nfetch may be at most 2^30 batches");
    }
    options.rounds = rounds;
    options.batches_per_round = static_cast<int>(nfetch);
  } else {
    return InvalidArgument(f.Path("frequency") + ": unknown frequency '" + frequency + "' (epoch, batch)");
  }
  if (compression) {
    FEDRA_ASSIGN_OR_RETURN(options.compression, ParseCompressionSpec(*compression, f.Path("compression")));
    if (options.compression.lossy() && options.strategy.name == "backup") {
      return InvalidArgument(f.Path("compression") +
                             ": the backup strategy drops late updates, and with them what "
                             "error feedback held back; use topk/bits with bsp, asp or ssp");
    }
  }
  if (balance) {
    JsonFields b(*balance, f.Path("balance"));
    FEDRA_RETURN_IF_ERROR(b.status());
    FEDRA_RETURN_IF_ERROR(b.Required("mode", &options.balance.mode));
    FEDRA_RETURN_IF_ERROR(b.Optional("rows", &options.balance.rows, 1, kMaxEpochRows));
    FEDRA_RETURN_IF_ERROR(b.Finish());
    if (options.balance.mode != "subsample" && options.balance.mode != "replicate") {
      return InvalidArgument(b.Path("mode") + ": unknown mode '" + options.balance.mode + "' (subsample, replicate)");
    }
  }
  options.batch_size = static_cast<int>(batch_size);
  options.seed = static_cast<uint64_t>(seed);
  options.quorum = static_cast<int>(quorum);
  options.prox_mu = static_cast<float>(prox_mu);
  if (Status s = CheckSecureTraining(options); !s.ok()) return InvalidArgument(f.Path(s.message()));
  return options;
}

// Trains on the job's rows; with held-out rows, every round is also scored on them.
Result<nlohmann::json> FitNn(const FitData& in, TrainingOptions options) {
  Federation& fed = in.fed;
  const FederatedMatrix& data = in.data;
  const std::vector<int64_t>& features = in.features;
  const int64_t label = in.label;
  const FederatedMatrix* held_out = in.held_out;
  options.on_iteration = in.on_iteration;
  options.recovery = in.recovery;
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, data.SelectColumns(fed, features));
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix y, data.SelectColumns(fed, {label}));
  // The data decides the layer shapes; a model that names them must agree.
  int outputs = 1;
  if (options.model.output == OutputKind::kSoftmax) {
    FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXd counts, ClassCounts(fed, y));
    if (counts.size() < 2)
      return InvalidArgument("nn: softmax labels hold fewer than two classes (codes 0..K-1, K >= 2)");
    outputs = static_cast<int>(counts.size());
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
  // The label's classes by code: the job's coding names them; codes as read name themselves.
  std::vector<std::string> classes = in.classes;
  if (options.model.output == OutputKind::kSoftmax) {
    for (auto k = classes.size(); k < static_cast<size_t>(outputs); ++k) classes.push_back(std::to_string(k));
  }
  // Checkpoints carry what a saved model needs besides its parameters (saved_model.h).
  options.model_description = in.described;
  options.model_description["model"] = options.model.ToJson();
  if (options.model.output == OutputKind::kSoftmax) options.model_description["classes"] = classes;
  std::optional<FederatedMatrix> val_x, val_y;
  Validation validation;
  if (held_out) {
    FEDRA_ASSIGN_OR_RETURN(val_x, held_out->SelectColumns(fed, features));
    FEDRA_ASSIGN_OR_RETURN(val_y, held_out->SelectColumns(fed, {label}));
    validation = Validation{&*val_x, &*val_y};
  }
  // Sites away at the start may join later rounds of a synchronous strategy; asynchronous ones
  // weigh each site's update by its share of the rows, which a late site would change.
  Federation* train_fed = &fed;
  if (!in.late.empty() && in.all_sites && !options.strategy.asynchronous()) {
    options.late_sites = in.late;
    train_fed = in.all_sites;
  }
  FEDRA_ASSIGN_OR_RETURN(ParameterServerResult trained, TrainFederated(*train_fed, x, y, options, validation));
  if (trained.rounds.empty()) return Unavailable("nn: no round was completed");
  const nlohmann::json& last = trained.rounds.back();
  nlohmann::json metrics = nlohmann::json::object();
  double bytes_up = 0, bytes_down = 0;
  nlohmann::json dropped = nlohmann::json::object(), rejoined = nlohmann::json::object();
  for (const nlohmann::json& r : trained.rounds) {
    bytes_up += r["bytes_up"].get<double>();
    bytes_down += r["bytes_down"].get<double>();
    for (const nlohmann::json& site : r.value("rejoined", nlohmann::json::array()))
      rejoined[site].push_back(r["round"]);
    if (!r.contains("dropped")) continue;
    for (const auto& [site, why] : r["dropped"].items())
      dropped[site].push_back({{"round", r["round"]}, {"error", why}});
  }
  for (const char* key : {"loss", "accuracy"}) {
    if (last.contains(key)) metrics[key] = last[key];
  }
  metrics["bytes_up_total"] = bytes_up;  // the rounds log bytes_up and bytes_down each
  metrics["bytes_down_total"] = bytes_down;
  nlohmann::json result{{"rows", x.rows()},
                        {"model", options.model.ToJson()},
                        {"optimizer", options.optimizer.ToJson()},
                        {"parameters", std::vector<float>(trained.parameters.data(),
                                                          trained.parameters.data() + trained.parameters.size())},
                        {"metrics", metrics},
                        {"rounds", trained.rounds},
                        {"iterations", static_cast<int>(trained.rounds.size())}};
  if (options.model.output == OutputKind::kSoftmax) result["classes"] = classes;
  if (!dropped.empty()) result["dropped"] = dropped;
  if (!rejoined.empty()) result["rejoined"] = rejoined;  // site -> the rounds it came back in
  if (held_out && last.contains("val_loss")) {           // no metrics when no validation site answered
    nlohmann::json scored = {{"loss", last["val_loss"]}};
    if (last.contains("val_accuracy")) scored["accuracy"] = last["val_accuracy"];
    result["held_out"] = {{"rows", last["val_rows"]}, {"metrics", scored}};
  }
  return result;
}

}  // namespace

AlgorithmInfo NnJob() {
  AlgorithmInfo a;
  a.name = "nn";
  a.summary = "a neural network trained at the sites through the federated parameter server";
  a.sections = {"model", "optimizer", "ps"};
  // The defaults are what the parsers make of empty objects.
  const JobSpec empty;
  const TrainingOptions d = *ParseNn(empty);
  a.params = {
      {"model", "object", d.model.ToJson(), 0, 0,
       "layers: hidden sizes, activation, output (softmax or linear), input_scale"},
      {"optimizer", "object", d.optimizer.ToJson(), 0, 0, "the sites' optimizer: name (sgd, adam), lr, momentum"},
      {"ps",
       "object",
       {{"strategy", d.strategy.name},
        {"frequency", "epoch"},
        {"epochs", d.rounds},
        {"local_epochs", d.epochs_per_round},
        {"batch_size", d.batch_size},
        {"aggregator", "fedavg"},
        {"seed", d.seed},
        {"quorum", d.quorum}},
       0,
       0,
       "the parameter server: strategy bsp|asp|ssp|backup, frequency epoch|batch, aggregator "
       "fedavg|median|trimmed_mean, server_optimizer, proximal_mu, compression, balance, checkpoint_every"},
  };
  a.prepare = [](const JobSpec& job, const nlohmann::json&) -> Result<PreparedFit> {
    FEDRA_ASSIGN_OR_RETURN(TrainingOptions options, ParseNn(job));
    return PreparedFit([options](const FitData& in) { return FitNn(in, options); });
  };
  return a;
}

}  // namespace fedra

// Federated training of the models in federated/model_spec.h through the parameter server
// (master/ps/): the sites train on their own rows and send only updates (compressed if asked)
// and loss sums; the server applies them by strategy, aggregation and server optimizer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "federated/model_spec.h"
#include "federated/secure_sum.h"
#include "federated/update_codec.h"
#include "master/ps/iteration_hook.h"
#include "master/ps/parameter_server.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

// Sites with different row counts can train on equal shares: every epoch, each site
// subsamples or replicates its rows to `rows` (0: the smallest site's rows when subsampling,
// the largest's when replicating).
struct BalanceSpec {
  std::string mode = "none";  // none, subsample, replicate
  int64_t rows = 0;
};

// Secure aggregation of training (master/federation/secure_sum.h): every round's updates are
// summed securely, so the master sees only their sum; with `dp`, DP-FedAvg (McMahan et al.
// 2018): each site clips its update and adds its share of Gaussian noise, and every round
// reports the (epsilon, delta) spent, from an RDP accountant.
struct SecureTraining {
  bool enabled = false;
  int threshold = 0;  // sites that must see each sum through; 0: a majority, at least 2
  // The fixed point's words: 32 or 64 bits; 0: 32 for softmax models trained in per-epoch rounds
  // without DP and without fraction_bits (the model deltas are scaled to their mean, whose range
  // is known), else 64. DP needs 64.
  int word_bits = 0;
  // Its fraction bits; 0: 32 with 64-bit words, with 32-bit words as many as keep values up to
  // 16 in range for the job's sites (24 for 3 or 4 sites).
  int fraction_bits = 0;
  SecureSumDp dp;          // noise_multiplier 0: no DP
  double dp_delta = 1e-5;  // the delta epsilon is reported at
};

struct TrainingOptions {
  ModelSpec model;          // inputs and outputs are set from the data
  OptimizerSpec optimizer;  // the sites' local optimizer (per-batch updates: the server's)
  StrategySpec strategy;
  AggregationSpec aggregation;
  ServerOptimizerSpec server_optimizer;  // for per-epoch rounds
  int64_t rounds = 10;
  // A round is `batches_per_round` local batches whose gradients accrue into one update (the
  // server then steps with `optimizer`), or, when 0, `epochs_per_round` local epochs whose
  // model delta is the update.
  int batches_per_round = 0;
  int epochs_per_round = 1;
  int batch_size = 32;
  uint64_t seed = 1;  // initialisation and shuffling
  int quorum = 1;     // fewest sites that must be left (see ParameterServerOptions)
  float prox_mu = 0;  // FedProx's proximal term at the sites
  CompressionSpec compression;
  BalanceSpec balance;
  SecureTraining secure;
  // Sites of the federation that hold no part of the data yet (away when it was read): each round
  // asks them to make their part, and each joins once it can (FederationRunner).
  std::vector<std::string> late_sites;
  IterationHook on_iteration = nullptr;        // per round: loss, accuracy, loss@site, bytes, validation
  const TrainingRecovery* recovery = nullptr;  // checkpoints (master/ps/checkpoint.h)
  int64_t checkpoint_every = 0;                // rounds between them; 0: the recovery's choice
  nlohmann::json model_description = nlohmann::json::object();  // stored with them (TrainingCheckpoint::model)
};

// Rows the model is scored on after every round, never trained on.
struct Validation {
  const FederatedMatrix* x = nullptr;
  const FederatedMatrix* y = nullptr;
};

// Ok when `options` can train under its secure aggregation (if any): a synchronous strategy, the
// mean, no compression (a secure sum adds whole vectors); otherwise kInvalidArgument saying why.
Status CheckSecureTraining(const TrainingOptions& options);

// Trains on features `x` and labels or targets `y`, row-partitioned alike; with `validation`,
// each round also reports val_loss (and val_accuracy) of its parameters on those rows.
Result<ParameterServerResult> TrainFederated(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                             const TrainingOptions& options, const Validation& validation = {});

}  // namespace fedra

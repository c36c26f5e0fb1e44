// Federated training of the models in federated/model_spec.h, bulk-synchronously with FedAvg:
// each round the master broadcasts the parameters, every site trains locally (an epoch, or one
// batch) on its own rows and returns its parameter delta and row count, and the master moves
// the parameters by the row-weighted mean delta. Only parameter deltas and loss sums leave the
// sites. (The other strategies, server optimizers, robust aggregation and compression of the
// parameter server build on this loop.)
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "federated/model_spec.h"
#include "master/federated_matrix.h"
#include "master/iteration_hook.h"

namespace fedra {

struct FedAvgOptions {
  ModelSpec model;          // inputs and outputs are set from the data
  OptimizerSpec optimizer;  // the sites' local optimizer
  int rounds = 10;
  bool per_batch = false;   // a round is one local batch instead of one local epoch
  int batch_size = 32;
  uint64_t seed = 1;        // initialisation and shuffling
  // Fewest sites that must answer a round. A site that cannot be reached or times out is left
  // out of that round (and recorded as dropped) and asked again in the next; below the quorum
  // the training stops with an error naming the sites. A site that refuses (bad settings for
  // its data, privacy) stops the training at once.
  int quorum = 1;
  IterationHook on_iteration = nullptr;  // per round: loss, accuracy, loss@site, bytes, sites
};

struct FedAvgResult {
  Eigen::VectorXf parameters;
  std::vector<nlohmann::json> rounds;  // per round: loss, accuracy, per-site loss, dropped sites, bytes, seconds
};

// Rows the model is scored on after every round, never trained on.
struct Validation {
  const FederatedMatrix* x = nullptr;
  const FederatedMatrix* y = nullptr;
};

// Trains on features `x` and labels or targets `y`, row-partitioned alike; with `validation`,
// each round also reports val_loss (and val_accuracy) of its parameters on those rows.
Result<FedAvgResult> TrainFedAvg(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                 const FedAvgOptions& options, const Validation& validation = {});

}  // namespace fedra

// The "nn" job: a model trained where the data lives through federated training (FedAvg, bulk
// synchronous), from the job's "model", "optimizer" and "ps" objects:
//
//   {"algorithm": "nn", "data": {"dataset": "fashion", "label": "label"},
//    "model": {"hidden": [128], "activation": "relu", "input_scale": 255},
//    "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
//    "ps": {"strategy": "bsp", "frequency": "epoch", "epochs": 20, "batch_size": 32,
//           "aggregator": "fedavg", "seed": 1, "quorum": 2}}
#pragma once

#include <nlohmann/json.hpp>

#include "master/federated_matrix.h"
#include "master/iteration_hook.h"
#include "master/job.h"

namespace fedra {

// Checks the nn job's model, optimizer and ps objects without running anything.
Status CheckNnJob(const JobSpec& job);

// Trains on `data`; with `held_out`, every round is also scored on those rows.
Result<nlohmann::json> FitNnJob(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                                const std::vector<int64_t>& features, int64_t label, const FederatedMatrix* held_out,
                                const IterationHook& on_iteration);

}  // namespace fedra

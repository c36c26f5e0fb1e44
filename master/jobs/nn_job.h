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
//   batch_size (32), seed (1), quorum (1)
#pragma once

#include <nlohmann/json.hpp>

#include "master/jobs/job.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

// Checks the nn job's model, optimizer and ps objects without running anything.
Status CheckNnJob(const JobSpec& job);

// Trains on `data`; with `held_out`, every round is also scored on those rows.
Result<nlohmann::json> FitNnJob(Federation& fed, const JobSpec& job, const FederatedMatrix& data,
                                const std::vector<int64_t>& features, int64_t label, const FederatedMatrix* held_out,
                                const IterationHook& on_iteration);

}  // namespace fedra

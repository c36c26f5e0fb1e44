// What the parameter server does with an aggregated update.
//
// Per-epoch (FedAvg-style) rounds send model deltas; the server treats their aggregate as a
// pseudo-gradient, -delta, and steps with its own optimizer (Reddi et al., "Adaptive Federated
// Optimization"):
//
//   "server_optimizer": {"name": "sgd", "lr": 1.0, "momentum": 0}   (the default: plain FedAvg)
//                       {"name": "fedadam", "lr": 0.01, "beta1": 0.9, "beta2": 0.99, "tau": 0.001}
//                       {"name": "fedyogi", ...the same fields}
//
// Per-batch rounds send accrued gradients; the server steps with the job's own optimizer, so
// one site with per-batch updates trains exactly as it would alone.
#pragma once

#include <memory>
#include <string>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "federated/model_spec.h"
#include "federated/optimizer.h"

namespace fedra {

struct ServerOptimizerSpec {
  std::string name = "sgd";  // sgd, fedadam, fedyogi
  double lr = 1.0;
  double momentum = 0;                           // sgd
  double beta1 = 0.9, beta2 = 0.99, tau = 1e-3;  // fedadam, fedyogi
  nlohmann::json ToJson() const;
};

// Parses a job's "server_optimizer" object (the lr default depends on the name: 1 for sgd,
// 0.01 for the adaptive ones); `where` prefixes errors.
Result<ServerOptimizerSpec> ParseServerOptimizerSpec(const nlohmann::json& doc, const std::string& where);

class ServerOptimizer {
 public:
  virtual ~ServerOptimizer() = default;
  // Moves `params` by the aggregated `update`; `epoch` drives a learning-rate schedule.
  virtual void Apply(Eigen::VectorXf* params, const Eigen::VectorXf& update, int epoch) = 0;
  // What a checkpoint keeps of it, and taking that up again (kInvalidArgument for another size).
  virtual OptimizerState State() const = 0;
  virtual Status Restore(const OptimizerState& state) = 0;
};

// For aggregated model deltas.
std::unique_ptr<ServerOptimizer> MakeDeltaOptimizer(const ServerOptimizerSpec& spec, int64_t size);
// For aggregated gradients: the job's optimizer, run at the server.
std::unique_ptr<ServerOptimizer> MakeGradientOptimizer(const OptimizerSpec& spec, int64_t size);

}  // namespace fedra

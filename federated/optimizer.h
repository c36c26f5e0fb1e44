// An optimizer's state for one parameter vector: the sites' local optimizer, and the parameter
// server's when it applies the gradients sites accrue (per-batch updates), so that both sides
// take exactly the same steps.
#pragma once

#include <cstdint>

#include <Eigen/Core>

#include "federated/model_spec.h"

namespace fedra {

class Optimizer {
 public:
  Optimizer(OptimizerSpec spec, int64_t size);
  // One update of `params` with `gradient` (weight decay added here), at the learning rate of
  // `epoch`.
  void Step(Eigen::VectorXf* params, Eigen::VectorXf gradient, int epoch);

 private:
  OptimizerSpec spec_;
  Eigen::VectorXf first_, second_;
  int64_t steps_ = 0;
};

}  // namespace fedra

// An optimizer's state for one parameter vector: the sites' local optimizer, and the parameter
// server's when it applies the gradients sites accrue (per-batch updates), so that both sides
// take exactly the same steps.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include <Eigen/Core>

#include "common/status.h"
#include "federated/model_spec.h"

namespace fedra {

// What an optimizer carries from one step to the next: saved with training checkpoints.
struct OptimizerState {
  std::vector<Eigen::VectorXf> vectors;  // moments, velocities: each the parameters' size
  int64_t steps = 0;
};

class Optimizer {
 public:
  Optimizer(OptimizerSpec spec, int64_t size);
  // One update of `params` with `gradient` (weight decay added here), at the learning rate of
  // `epoch`.
  void Step(Eigen::VectorXf* params, Eigen::VectorXf gradient, int epoch);

  OptimizerState State() const { return {{Sized(first_), Sized(second_)}, steps_}; }
  // Takes up `state` (from State() of an optimizer of the same size); kInvalidArgument otherwise.
  Status Restore(const OptimizerState& state);

 private:
  // A moment as the state has it: all zeros when this kind of step never needed it.
  Eigen::VectorXf Sized(const Eigen::VectorXf& moment) const {
    return moment.size() ? moment : Eigen::VectorXf::Zero(size_);
  }

  OptimizerSpec spec_;
  int64_t size_ = 0;
  // Sized at the first step that needs them: plain SGD needs neither, and a site makes an
  // optimizer every round (zeroing megabytes it would never read).
  Eigen::VectorXf first_, second_;
  int64_t steps_ = 0;
};

// Copies `state`'s vectors into `into`, in order, when their number and sizes match.
Status RestoreVectors(const OptimizerState& state, std::initializer_list<Eigen::VectorXf*> into);

}  // namespace fedra

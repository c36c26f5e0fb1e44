#include "federated/optimizer.h"

#include <cmath>

namespace fedra {

Optimizer::Optimizer(OptimizerSpec spec, int64_t size) : spec_(spec), size_(size) {}

Status RestoreVectors(const OptimizerState& state, std::initializer_list<Eigen::VectorXf*> into) {
  if (state.vectors.size() != into.size() || state.steps < 0) {
    return InvalidArgument("optimizer state: " + std::to_string(state.vectors.size()) + " vectors, expected " +
                           std::to_string(into.size()));
  }
  size_t i = 0;
  for (Eigen::VectorXf* v : into) {
    if (state.vectors[i].size() != v->size()) {
      return InvalidArgument("optimizer state: a vector of " + std::to_string(state.vectors[i].size()) +
                             " values for " + std::to_string(v->size()) + " parameters");
    }
    ++i;
  }
  i = 0;
  for (Eigen::VectorXf* v : into) *v = state.vectors[i++];
  return Status::Ok();
}

Status Optimizer::Restore(const OptimizerState& state) {
  Eigen::VectorXf first = Eigen::VectorXf::Zero(size_), second = Eigen::VectorXf::Zero(size_);
  FEDRA_RETURN_IF_ERROR(RestoreVectors(state, {&first, &second}));
  first_ = std::move(first);
  second_ = std::move(second);
  steps_ = state.steps;
  return Status::Ok();
}

void Optimizer::Step(Eigen::VectorXf* params, Eigen::VectorXf gradient, int epoch) {
  ++steps_;
  if (spec_.weight_decay > 0) gradient += spec_.weight_decay * *params;
  const float lr = spec_.LearningRate(epoch);
  if (spec_.kind == OptimizerKind::kAdam) {
    if (first_.size() == 0) first_.setZero(size_);
    if (second_.size() == 0) second_.setZero(size_);
    first_ = spec_.beta1 * first_ + (1 - spec_.beta1) * gradient;
    second_ = spec_.beta2 * second_ + (1 - spec_.beta2) * gradient.cwiseAbs2();
    const float c1 = 1 - std::pow(spec_.beta1, static_cast<float>(steps_));
    const float c2 = 1 - std::pow(spec_.beta2, static_cast<float>(steps_));
    params->array() -= lr * (first_.array() / c1) / ((second_.array() / c2).sqrt() + spec_.epsilon);
    return;
  }
  if (spec_.momentum == 0) {
    *params -= lr * gradient;
    return;
  }
  // The velocity form of PyTorch's SGD: v = mu v + g; Nesterov looks ahead along v.
  if (first_.size() == 0) first_.setZero(size_);
  first_ = spec_.momentum * first_ + gradient;
  *params -= lr * (spec_.nesterov ? Eigen::VectorXf(gradient + spec_.momentum * first_) : first_);
}

}  // namespace fedra

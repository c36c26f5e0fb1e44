// Models and optimizers both sides agree on: what a job's "model" and "optimizer" objects mean,
// how a model's parameters are laid out in one flat vector (the unit the parameter server moves),
// and their seeded initialisation.
//
//   "model":     {"hidden": [64, 32], "activation": "relu", "output": "softmax", "input_scale": 255}
//   "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
//                 "weight_decay": 0.0001, "schedule": {"name": "step", "step": 10, "gamma": 0.5}}
//
// A model with no hidden layers and a softmax output is multinomial logistic regression.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace fedra {

enum class Activation { kRelu, kTanh, kSigmoid };
enum class OutputKind { kSoftmax, kLinear };  // cross-entropy on classes; squared error

struct ModelSpec {
  int inputs = 0;           // features; set from the data
  std::vector<int> hidden;  // widths of the hidden layers
  int outputs = 0;          // classes (softmax) or targets (linear); set from the data
  Activation activation = Activation::kRelu;
  OutputKind output = OutputKind::kSoftmax;
  float input_scale = 1;  // inputs are divided by this first (255 for 8-bit pixels)

  // Layer l maps widths()[l] to widths()[l + 1].
  std::vector<int> widths() const;
  // Weights of layer l (out x in, column-major) then its biases, layer after layer.
  int64_t parameter_count() const;
  nlohmann::json ToJson() const;
};

// Parses a job's "model" object; `where` prefixes errors ("model").
Result<ModelSpec> ParseModelSpec(const nlohmann::json& doc, const std::string& where);

// Glorot-uniform weights and zero biases from `seed`: the same numbers everywhere.
Eigen::VectorXf InitialParameters(const ModelSpec& spec, uint64_t seed);

// The most rows a balanced epoch may have (its shuffled order is held in memory at the site).
inline constexpr int64_t kMaxEpochRows = int64_t{1} << 26;

enum class OptimizerKind { kSgd, kAdam };

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::kSgd;
  float lr = 0.01f;
  float momentum = 0;                                   // sgd
  bool nesterov = false;                                // sgd with momentum
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // adam
  float weight_decay = 0;                               // L2, added to the gradient (biases included)
  int step_every = 0;                                   // step decay: lr *= gamma every step_every epochs; 0: constant
  float gamma = 1;

  float LearningRate(int epoch) const;
  nlohmann::json ToJson() const;
};

Result<OptimizerSpec> ParseOptimizerSpec(const nlohmann::json& doc, const std::string& where);

}  // namespace fedra

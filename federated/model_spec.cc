#include "federated/model_spec.h"

#include <cmath>
#include <random>

#include "common/config.h"

namespace fedra {

std::vector<int> ModelSpec::widths() const {
  std::vector<int> w = {inputs};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(outputs);
  return w;
}

int64_t ModelSpec::parameter_count() const {
  const std::vector<int> w = widths();
  int64_t n = 0;
  for (size_t l = 0; l + 1 < w.size(); ++l) n += int64_t{w[l + 1]} * w[l] + w[l + 1];
  return n;
}

nlohmann::json ModelSpec::ToJson() const {
  static const char* kActivations[] = {"relu", "tanh", "sigmoid"};
  return {{"inputs", inputs},
          {"hidden", hidden},
          {"outputs", outputs},
          {"activation", kActivations[static_cast<int>(activation)]},
          {"output", output == OutputKind::kSoftmax ? "softmax" : "linear"},
          {"input_scale", input_scale}};
}

Result<ModelSpec> ParseModelSpec(const nlohmann::json& doc, const std::string& where) {
  ModelSpec spec;
  JsonFields f(doc, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  int64_t inputs = 0, outputs = 0;
  FEDRA_RETURN_IF_ERROR(f.Optional("inputs", &inputs, 0, 1 << 24));
  FEDRA_RETURN_IF_ERROR(f.Optional("outputs", &outputs, 0, 1 << 20));
  spec.inputs = static_cast<int>(inputs);
  spec.outputs = static_cast<int>(outputs);
  if (const nlohmann::json* hidden = f.Child("hidden")) {
    if (!hidden->is_array()) return InvalidArgument(f.Path("hidden") + ": expected an array of layer widths");
    for (const auto& h : *hidden) {
      if (!h.is_number_integer() || h.get<int64_t>() < 1 || h.get<int64_t>() > (1 << 16)) {
        return InvalidArgument(f.Path("hidden") + ": widths must be integers in [1, 65536], got " + h.dump());
      }
      spec.hidden.push_back(h.get<int>());
    }
  }
  std::string activation = "relu", output = "softmax";
  double scale = 1;
  FEDRA_RETURN_IF_ERROR(f.Optional("input_scale", &scale, 1e-6, 1e12));
  spec.input_scale = static_cast<float>(scale);
  FEDRA_RETURN_IF_ERROR(f.Optional("activation", &activation));
  FEDRA_RETURN_IF_ERROR(f.Optional("output", &output));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (activation == "relu")
    spec.activation = Activation::kRelu;
  else if (activation == "tanh")
    spec.activation = Activation::kTanh;
  else if (activation == "sigmoid")
    spec.activation = Activation::kSigmoid;
  else
    return InvalidArgument(f.Path("activation") + ": unknown activation '" + activation + "' (relu, tanh, sigmoid)");
  if (output == "softmax")
    spec.output = OutputKind::kSoftmax;
  else if (output == "linear")
    spec.output = OutputKind::kLinear;
  else
    return InvalidArgument(f.Path("output") + ": unknown output '" + output + "' (softmax, linear)");
  return spec;
}

Eigen::VectorXf InitialParameters(const ModelSpec& spec, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Eigen::VectorXf params = Eigen::VectorXf::Zero(spec.parameter_count());
  const std::vector<int> w = spec.widths();
  int64_t at = 0;
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    const float limit = std::sqrt(6.0f / static_cast<float>(w[l] + w[l + 1]));
    std::uniform_real_distribution<float> u(-limit, limit);
    const int64_t weights = int64_t{w[l + 1]} * w[l];
    for (int64_t i = 0; i < weights; ++i) params(at + i) = u(rng);
    at += weights + w[l + 1];  // biases stay zero
  }
  return params;
}

float OptimizerSpec::LearningRate(int epoch) const {
  if (step_every <= 0) return lr;
  return lr * std::pow(gamma, static_cast<float>(epoch / step_every));
}

nlohmann::json OptimizerSpec::ToJson() const {
  nlohmann::json j = {
      {"name", kind == OptimizerKind::kSgd ? "sgd" : "adam"}, {"lr", lr}, {"weight_decay", weight_decay}};
  if (kind == OptimizerKind::kSgd) {
    j["momentum"] = momentum;
    j["nesterov"] = nesterov;
  } else {
    j["beta1"] = beta1;
    j["beta2"] = beta2;
    j["epsilon"] = epsilon;
  }
  if (step_every > 0) j["schedule"] = {{"name", "step"}, {"step", step_every}, {"gamma", gamma}};
  return j;
}

Result<OptimizerSpec> ParseOptimizerSpec(const nlohmann::json& doc, const std::string& where) {
  OptimizerSpec o;
  JsonFields f(doc, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  std::string name = "sgd";
  double lr = o.lr, momentum = 0, beta1 = o.beta1, beta2 = o.beta2, epsilon = o.epsilon, decay = 0;
  FEDRA_RETURN_IF_ERROR(f.Optional("name", &name));
  FEDRA_RETURN_IF_ERROR(f.Optional("lr", &lr, 0, 1e3));
  FEDRA_RETURN_IF_ERROR(f.Optional("momentum", &momentum, 0, 0.9999));
  FEDRA_RETURN_IF_ERROR(f.Optional("nesterov", &o.nesterov));
  FEDRA_RETURN_IF_ERROR(f.Optional("beta1", &beta1, 0, 0.9999));
  FEDRA_RETURN_IF_ERROR(f.Optional("beta2", &beta2, 0, 0.999999));
  FEDRA_RETURN_IF_ERROR(f.Optional("epsilon", &epsilon, 1e-10, 1));
  FEDRA_RETURN_IF_ERROR(f.Optional("weight_decay", &decay, 0, 1));
  if (const nlohmann::json* schedule = f.Child("schedule")) {
    JsonFields s(*schedule, f.Path("schedule"));
    std::string kind = "constant";
    int64_t step = 0;
    double gamma = 1;
    FEDRA_RETURN_IF_ERROR(s.Optional("name", &kind));
    FEDRA_RETURN_IF_ERROR(s.Optional("step", &step, 1, 1000000));
    FEDRA_RETURN_IF_ERROR(s.Optional("gamma", &gamma, 0, 1));
    FEDRA_RETURN_IF_ERROR(s.Finish());
    if (kind == "step") {
      if (step == 0) return InvalidArgument(s.Path("step") + ": required for a step schedule");
      o.step_every = static_cast<int>(step);
      o.gamma = static_cast<float>(gamma);
    } else if (kind != "constant") {
      return InvalidArgument(s.Path("name") + ": unknown schedule '" + kind + "' (constant, step)");
    }
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (name == "sgd")
    o.kind = OptimizerKind::kSgd;
  else if (name == "adam")
    o.kind = OptimizerKind::kAdam;
  else
    return InvalidArgument(f.Path("name") + ": unknown optimizer '" + name + "' (sgd, adam)");
  // Checked as the float it becomes, so what the master accepts every site accepts too.
  if (!(static_cast<float>(lr) > 0))
    return InvalidArgument(f.Path("lr") + ": must be positive, got " + std::to_string(lr));
  if (o.nesterov && momentum == 0) return InvalidArgument(f.Path("nesterov") + ": needs momentum > 0");
  o.lr = static_cast<float>(lr);
  o.momentum = static_cast<float>(momentum);
  o.beta1 = static_cast<float>(beta1);
  o.beta2 = static_cast<float>(beta2);
  o.epsilon = static_cast<float>(epsilon);
  o.weight_decay = static_cast<float>(decay);
  return o;
}

}  // namespace fedra

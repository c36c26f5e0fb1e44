#include "master/ps/server_optimizer.h"

#include "common/config.h"
#include "federated/optimizer.h"

namespace fedra {
namespace {

class DeltaOptimizer final : public ServerOptimizer {
 public:
  DeltaOptimizer(ServerOptimizerSpec spec, int64_t size)
      : spec_(std::move(spec)), m_(Eigen::VectorXf::Zero(size)), v_(Eigen::VectorXf::Zero(size)) {
    if (spec_.name != "sgd") v_.setConstant(static_cast<float>(spec_.tau * spec_.tau));
  }

  void Apply(Eigen::VectorXf* params, const Eigen::VectorXf& delta, int) override {
    const float lr = static_cast<float>(spec_.lr);
    if (spec_.name == "sgd") {
      if (spec_.momentum == 0) {
        *params += lr * delta;
        return;
      }
      m_ = static_cast<float>(spec_.momentum) * m_ + delta;
      *params += lr * m_;
      return;
    }
    const float b1 = static_cast<float>(spec_.beta1), b2 = static_cast<float>(spec_.beta2);
    m_ = b1 * m_ + (1 - b1) * delta;
    const Eigen::ArrayXf d2 = delta.array().square();
    if (spec_.name == "fedadam") {
      v_ = (b2 * v_.array() + (1 - b2) * d2).matrix();
    } else {  // fedyogi: v moves toward d2 by at most (1 - b2) d2 per round
      v_ = (v_.array() - (1 - b2) * d2 * (v_.array() - d2).sign()).matrix();
    }
    params->array() += lr * m_.array() / (v_.array().sqrt() + static_cast<float>(spec_.tau));
  }
  OptimizerState State() const override { return {{m_, v_}, 0}; }
  Status Restore(const OptimizerState& state) override { return RestoreVectors(state, {&m_, &v_}); }

 private:
  ServerOptimizerSpec spec_;
  Eigen::VectorXf m_, v_;
};

class GradientOptimizer final : public ServerOptimizer {
 public:
  GradientOptimizer(const OptimizerSpec& spec, int64_t size) : optimizer_(spec, size) {}
  void Apply(Eigen::VectorXf* params, const Eigen::VectorXf& gradient, int epoch) override {
    optimizer_.Step(params, gradient, epoch);
  }
  OptimizerState State() const override { return optimizer_.State(); }
  Status Restore(const OptimizerState& state) override { return optimizer_.Restore(state); }

 private:
  Optimizer optimizer_;
};

}  // namespace

nlohmann::json ServerOptimizerSpec::ToJson() const {
  nlohmann::json j = {{"name", name}, {"lr", lr}};
  if (name == "sgd") {
    j["momentum"] = momentum;
  } else {
    j["beta1"] = beta1;
    j["beta2"] = beta2;
    j["tau"] = tau;
  }
  return j;
}

Result<ServerOptimizerSpec> ParseServerOptimizerSpec(const nlohmann::json& doc, const std::string& where) {
  ServerOptimizerSpec spec;
  JsonFields f(doc, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  FEDRA_RETURN_IF_ERROR(f.Optional("name", &spec.name));
  if (spec.name != "sgd" && spec.name != "fedadam" && spec.name != "fedyogi") {
    return InvalidArgument(f.Path("name") + ": unknown server optimizer '" + spec.name + "' (sgd, fedadam, fedyogi)");
  }
  if (spec.name != "sgd") spec.lr = 0.01;
  FEDRA_RETURN_IF_ERROR(f.Optional("lr", &spec.lr, 1e-12, 1e6));
  if (spec.name == "sgd") {
    FEDRA_RETURN_IF_ERROR(f.Optional("momentum", &spec.momentum, 0, 0.999999));
  } else {
    FEDRA_RETURN_IF_ERROR(f.Optional("beta1", &spec.beta1, 0, 0.999999));
    FEDRA_RETURN_IF_ERROR(f.Optional("beta2", &spec.beta2, 0, 0.999999));
    FEDRA_RETURN_IF_ERROR(f.Optional("tau", &spec.tau, 1e-12, 1));
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  return spec;
}

std::unique_ptr<ServerOptimizer> MakeDeltaOptimizer(const ServerOptimizerSpec& spec, int64_t size) {
  return std::make_unique<DeltaOptimizer>(spec, size);
}

std::unique_ptr<ServerOptimizer> MakeGradientOptimizer(const OptimizerSpec& spec, int64_t size) {
  return std::make_unique<GradientOptimizer>(spec, size);
}

}  // namespace fedra

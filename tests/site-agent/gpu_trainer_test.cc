// The CUDA path against the CPU path: same seed, same batches, float32 on both. Skipped, with
// the reason, on machines without a usable GPU.
#include <doctest/doctest.h>

#include <random>
#include <thread>
#include <vector>

#include "site-agent/gpu_trainer.h"
#include "site-agent/trainer.h"
#include "tests/support/random_data.h"

namespace fedra {
namespace {

// Whether a GPU answers; where none does, says why the test case skips.
bool HaveGpu() {
  const GpuProbe& gpu = ProbeGpu();
  if (!gpu.available) MESSAGE("skipped: " << gpu.description);
  return gpu.available;
}

struct Case {
  const char* name;
  std::vector<int> hidden;
  Activation activation;
  OutputKind output;
  OptimizerSpec optimizer;
  float prox_mu = 0;
  bool accrue = false;
};

std::vector<Case> Cases() {
  OptimizerSpec nesterov;
  nesterov.lr = 0.05f;
  nesterov.momentum = 0.9f;
  nesterov.nesterov = true;
  nesterov.weight_decay = 1e-3f;
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  adam.lr = 0.01f;
  OptimizerSpec sgd;
  sgd.lr = 0.1f;
  return {
      {"relu, softmax, nesterov + weight decay", {32, 16}, Activation::kRelu, OutputKind::kSoftmax, nesterov},
      {"tanh, linear, adam", {24}, Activation::kTanh, OutputKind::kLinear, adam},
      {"sigmoid, softmax, sgd + proximal term", {20}, Activation::kSigmoid, OutputKind::kSoftmax, sgd, 0.5f},
      {"relu, softmax, gradient accrual", {16}, Activation::kRelu, OutputKind::kSoftmax, sgd, 0, true},
  };
}

TEST_CASE("local training on the GPU agrees with the CPU: one step and a whole epoch") {
  if (!HaveGpu()) return;
  MESSAGE("GPU: " << ProbeGpu().description);
  std::mt19937 rng(5);
  std::normal_distribution<double> n(0, 1);
  Matrix x(300, 12), y(300, 3);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = n(rng);
  for (Eigen::Index i = 0; i < 300; ++i) {
    y(i, 0) = static_cast<double>(i % 4);  // classes for softmax
    y(i, 1) = n(rng);                      // targets for linear
    y(i, 2) = n(rng);
  }
  for (const Case& c : Cases()) {
    CAPTURE(c.name);
    ModelSpec spec;
    spec.inputs = 12;
    spec.hidden = c.hidden;
    spec.activation = c.activation;
    spec.output = c.output;
    spec.outputs = c.output == OutputKind::kSoftmax ? 4 : 2;
    spec.input_scale = 2;
    const Matrix targets = c.output == OutputKind::kSoftmax ? Matrix(y.col(0)) : Matrix(y.rightCols(2));
    for (const int batches : {1, 0}) {  // one step; then an epoch of 9 batches
      CAPTURE(batches);
      LocalTrainingOptions options;
      options.batches = batches;
      options.epochs = 1;
      options.batch_size = 32;
      options.seed = 11;
      options.prox_mu = c.prox_mu;
      options.accrue_gradients = c.accrue;
      const Eigen::VectorXf start = InitialParameters(spec, 3);
      Result<LocalTrainingResult> cpu = TrainLocal(Mlp(spec), c.optimizer, options, x, targets, start);
      options.use_gpu = true;
      Result<LocalTrainingResult> on_gpu = TrainLocal(Mlp(spec), c.optimizer, options, x, targets, start);
      REQUIRE_MESSAGE(cpu.ok(), cpu.status().ToString());
      REQUIRE_MESSAGE(on_gpu.ok(), on_gpu.status().ToString());
      // Stated tolerance: products summed in a different order differ by float rounding, which
      // steps compound: 1e-5 after one step, 1e-4 after an epoch, relative to the values' scale.
      const float tolerance = batches == 1 ? 1e-5f : 1e-4f;
      const float scale = 1 + start.cwiseAbs().maxCoeff();
      CHECK((cpu->params - on_gpu->params).cwiseAbs().maxCoeff() <= tolerance * scale);
      if (c.accrue) CHECK((cpu->accrued - on_gpu->accrued).cwiseAbs().maxCoeff() <= tolerance * scale);
      CHECK(on_gpu->stats.loss_sum == doctest::Approx(cpu->stats.loss_sum).epsilon(1e-4));
      CHECK(on_gpu->stats.rows == cpu->stats.rows);
      CHECK(std::abs(on_gpu->stats.correct - cpu->stats.correct) <= 1);  // a near tie may flip
      CHECK(on_gpu->batches == cpu->batches);
    }
  }
}

TEST_CASE("local training on the GPU agrees with the CPU where the CPU's products go to OpenBLAS") {
  // Batches of 32 through 40-64-32: every CPU product has sides of 32 or more (sgemm).
  if (!HaveGpu()) return;
  const Matrix x = testing::NormalMatrix(320, 40, 9), y = testing::NormalMatrix(320, 32, 10);
  ModelSpec spec;
  spec.inputs = 40;
  spec.hidden = {64};
  spec.outputs = 32;
  spec.output = OutputKind::kLinear;
  OptimizerSpec sgd;
  sgd.lr = 0.05f;
  sgd.momentum = 0.9f;
  LocalTrainingOptions options;
  options.epochs = 1;  // 10 batches
  options.batch_size = 32;
  options.seed = 3;
  const Eigen::VectorXf start = InitialParameters(spec, 4);
  Result<LocalTrainingResult> cpu = TrainLocal(Mlp(spec), sgd, options, x, y, start);
  options.use_gpu = true;
  Result<LocalTrainingResult> on_gpu = TrainLocal(Mlp(spec), sgd, options, x, y, start);
  REQUIRE_MESSAGE(cpu.ok(), cpu.status().ToString());
  REQUIRE_MESSAGE(on_gpu.ok(), on_gpu.status().ToString());
  // The same stated tolerance as an epoch above: float rounding, compounded over the steps.
  CHECK((cpu->params - on_gpu->params).cwiseAbs().maxCoeff() <= 1e-4f * (1 + start.cwiseAbs().maxCoeff()));
  CHECK(on_gpu->stats.loss_sum == doctest::Approx(cpu->stats.loss_sum).epsilon(1e-4));
}

TEST_CASE("training calls on the GPU from several threads at once each get their own answer") {
  // A site's compute pool may train for two jobs at once: each call has its own stream and its
  // own cuBLAS handle from the pool, so their batches do not mix (their allocations still take
  // turns on the device).
  if (!HaveGpu()) return;
  const Matrix x = testing::NormalMatrix(500, 20, 7);  // the draws of the mt19937(7) it replaced
  Matrix y(500, 1);
  for (Eigen::Index i = 0; i < 500; ++i) y(i, 0) = static_cast<double>(i % 3);
  ModelSpec spec;
  spec.inputs = 20;
  spec.hidden = {64};
  spec.outputs = 3;
  OptimizerSpec adam;
  adam.kind = OptimizerKind::kAdam;
  adam.lr = 0.01f;
  auto train = [&](uint64_t seed) {
    LocalTrainingOptions options;
    options.epochs = 3;
    options.batch_size = 16;  // 93 batches: many more than the host may run ahead
    options.seed = seed;
    options.use_gpu = true;
    return TrainLocal(Mlp(spec), adam, options, x, y, InitialParameters(spec, seed));
  };
  constexpr int kCalls = 4;
  std::vector<Result<LocalTrainingResult>> alone, together(kCalls, Internal("not run"));
  for (int i = 0; i < kCalls; ++i) alone.push_back(train(static_cast<uint64_t>(i + 1)));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) threads.emplace_back([&, i] { together[i] = train(static_cast<uint64_t>(i + 1)); });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kCalls; ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(alone[i].ok(), alone[i].status().ToString());
    REQUIRE_MESSAGE(together[i].ok(), together[i].status().ToString());
    // The same call on the same GPU: the same values up to float rounding in cuBLAS's choice of
    // kernel; different seeds train different models.
    CHECK((alone[i]->params - together[i]->params).cwiseAbs().maxCoeff() <= 1e-5f);
    CHECK(together[i]->stats.loss_sum == doctest::Approx(alone[i]->stats.loss_sum).epsilon(1e-6));
    CHECK(std::abs(together[i]->stats.correct - alone[i]->stats.correct) <= 1);  // a near tie may flip
    CHECK(together[i]->stats.rows == 3 * 31 * 16);
    if (i > 0) CHECK((together[i]->params - together[0]->params).cwiseAbs().maxCoeff() > 1e-3f);
  }
}

TEST_CASE("asking for the GPU where there is none fails with the reason, not a crash") {
  const GpuProbe& gpu = ProbeGpu();
  if (gpu.available) return;
  ModelSpec spec;
  spec.inputs = 2;
  spec.outputs = 2;
  LocalTrainingOptions options;
  options.batch_size = 2;
  options.use_gpu = true;
  Matrix x = Matrix::Zero(4, 2), y(4, 1);
  y << 0, 1, 0, 1;
  Result<LocalTrainingResult> r = TrainLocal(Mlp(spec), OptimizerSpec{}, options, x, y, InitialParameters(spec, 1));
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message() == gpu.description);
  MESSAGE("no GPU here: " << gpu.description);
}

}  // namespace
}  // namespace fedra

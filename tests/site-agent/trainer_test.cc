// The CPU trainer: gradients against finite differences, optimizer steps against their formulas
// computed here, seeded determinism, learning on a toy problem, and bad settings named.
#include <doctest/doctest.h>

#include <random>

#include "site-agent/trainer.h"
#include "tests/support/random_data.h"

namespace fedra {
namespace {

ModelSpec Spec(std::vector<int> hidden, Activation a, OutputKind out, int inputs = 3, int outputs = 4) {
  ModelSpec s;
  s.inputs = inputs;
  s.hidden = std::move(hidden);
  s.outputs = outputs;
  s.activation = a;
  s.output = out;
  return s;
}

MatrixF RandomF(int rows, int cols, unsigned seed) { return testing::NormalMatrix(rows, cols, seed).cast<float>(); }

}  // namespace

TEST_CASE("MLP gradients match central finite differences of the loss") {
  // A batch of one row takes its own path (an outer product) for the weights' gradients.
  for (const int rows : {7, 1}) {
    for (Activation a : {Activation::kTanh, Activation::kSigmoid}) {
      for (OutputKind out : {OutputKind::kSoftmax, OutputKind::kLinear}) {
        CAPTURE(rows);
        CAPTURE(static_cast<int>(a));
        CAPTURE(static_cast<int>(out));
        const Mlp model(Spec({5, 4}, a, out));
        const MatrixF x = RandomF(rows, 3, 1);
        Targets t;
        t.classes = Eigen::VectorXi{{0, 3, 1, 2, 2, 0, 1}}.head(rows);
        t.values = RandomF(rows, 4, 2);
        Eigen::VectorXf p = InitialParameters(model.spec(), 3);
        Eigen::VectorXf grad;
        model.Run(p, x, t, &grad);
        const float h = 1e-2f;
        double worst = 0;
        for (Eigen::Index i = 0; i < p.size(); ++i) {
          Eigen::VectorXf up = p, down = p;
          up(i) += h;
          down(i) -= h;
          const double numeric =
              (model.Run(up, x, t, nullptr).loss_sum - model.Run(down, x, t, nullptr).loss_sum) / (2.0 * h * x.rows());
          worst = std::max(worst, std::abs(numeric - grad(i)) / std::max(1e-2, std::abs(numeric)));
        }
        CHECK(worst < 2e-2);
      }
    }
  }
}

TEST_CASE("MLP gradients of layers wide enough for OpenBLAS match the same math in double") {
  // Every product of a 35-row batch through 33-40-32 has sides of 32 or more, so all of them go
  // to sgemm (site-agent/blas.h). Finite differences in float are too coarse at this size (the
  // loss sums 1,120 squared errors); the oracle is the backward pass written out here in double.
  const Mlp model(Spec({40}, Activation::kTanh, OutputKind::kLinear, 33, 32));
  const MatrixF x = RandomF(35, 33, 4);
  Targets t;
  t.values = RandomF(35, 32, 5);
  const Eigen::VectorXf p = InitialParameters(model.spec(), 6);
  Eigen::VectorXf grad;
  model.Run(p, x, t, &grad);
  REQUIRE(grad.size() == p.size());
  // The parameter layout: per layer, the weights (out x in, column-major), then the biases.
  const Eigen::VectorXd pd = p.cast<double>();
  const Eigen::Map<const Matrix> w1(pd.data(), 40, 33), w2(pd.data() + 40 * 33 + 40, 32, 40);
  const Eigen::Map<const Eigen::VectorXd> b1(pd.data() + 40 * 33, 40), b2(pd.data() + 40 * 33 + 40 + 32 * 40, 32);
  const Matrix xd = x.cast<double>(), yd = t.values.cast<double>();
  const Matrix h1 = ((xd * w1.transpose()).rowwise() + b1.transpose()).array().tanh().matrix();
  const Matrix z2 = (h1 * w2.transpose()).rowwise() + b2.transpose();
  const Matrix delta2 = (z2 - yd) / 35.0;  // d (mean loss) / d z2
  const Matrix delta1 = ((delta2 * w2).array() * (1.0 - h1.array().square())).matrix();
  Eigen::VectorXd want(p.size());
  Eigen::Map<Matrix>(want.data(), 40, 33) = delta1.transpose() * xd;
  want.segment(40 * 33, 40) = delta1.colwise().sum().transpose();
  Eigen::Map<Matrix>(want.data() + 40 * 33 + 40, 32, 40) = delta2.transpose() * h1;
  want.tail(32) = delta2.colwise().sum().transpose();
  // Float against double over sums of 35 to 40 terms: 1e-4 of the largest coordinate.
  CHECK((grad.cast<double>() - want).cwiseAbs().maxCoeff() <= 1e-4 * want.cwiseAbs().maxCoeff());
}

TEST_CASE("scoring row-major rows where they lie gives Run's statistics over them") {
  // 40 inputs and 40 hidden units: the first product goes to OpenBLAS with the rows transposed.
  const MatrixF x = RandomF(2500, 40, 21);
  const RowMajorF rows = x;
  for (const OutputKind out : {OutputKind::kSoftmax, OutputKind::kLinear}) {
    CAPTURE(static_cast<int>(out));
    ModelSpec spec = Spec({40}, Activation::kTanh, out, 40);
    spec.input_scale = out == OutputKind::kSoftmax ? 1 : 255;  // scaled after the first product
    const Mlp mlp(spec);
    const Eigen::VectorXf params = Eigen::VectorXf::Random(mlp.spec().parameter_count());
    Matrix y(2500, out == OutputKind::kSoftmax ? 1 : 4);
    for (Eigen::Index i = 0; i < y.rows(); ++i) {
      for (Eigen::Index j = 0; j < y.cols(); ++j) y(i, j) = out == OutputKind::kSoftmax ? (i * 7) % 4 : x(i, j % 3);
    }
    Result<Targets> targets = MakeTargets(mlp.spec(), y);
    REQUIRE(targets.ok());
    const BatchStats whole = mlp.Run(params, x, *targets, nullptr);
    const BatchStats scored = mlp.Score(params, rows, *targets);
    CHECK(scored.rows == 2500);
    CHECK(scored.correct == whole.correct);
    CHECK(scored.loss_sum == doctest::Approx(whole.loss_sum).epsilon(1e-5));
    CHECK(whole.loss_sum > 0);
  }
}

TEST_CASE("optimizer steps follow their formulas") {
  const Eigen::VectorXf g{{0.5f, -1.0f}};
  SUBCASE("sgd with Nesterov momentum and weight decay, two steps") {
    OptimizerSpec s;
    s.lr = 0.1f;
    s.momentum = 0.9f;
    s.nesterov = true;
    s.weight_decay = 0.01f;
    Optimizer opt(s, 2);
    Eigen::VectorXf p{{1.0f, 2.0f}};
    Eigen::VectorXf v = Eigen::VectorXf::Zero(2), want = p;
    for (int step = 0; step < 2; ++step) {
      const Eigen::VectorXf gd = g + 0.01f * want;
      v = 0.9f * v + gd;
      want -= 0.1f * (gd + 0.9f * v);
      opt.Step(&p, g, 0);
    }
    CHECK((p - want).cwiseAbs().maxCoeff() < 1e-6f);
  }
  SUBCASE("adam, bias-corrected") {
    OptimizerSpec s;
    s.kind = OptimizerKind::kAdam;
    s.lr = 0.01f;
    Optimizer opt(s, 2);
    Eigen::VectorXf p = Eigen::VectorXf::Zero(2);
    opt.Step(&p, g, 0);
    // After one step, m/(1-b1) = g and v/(1-b2) = g², so the step is lr * sign(g) (up to epsilon).
    CHECK(p(0) == doctest::Approx(-0.01f).epsilon(1e-5));
    CHECK(p(1) == doctest::Approx(0.01f).epsilon(1e-5));
  }
  SUBCASE("step decay") {
    OptimizerSpec s;
    s.lr = 0.8f;
    s.step_every = 2;
    s.gamma = 0.5f;
    CHECK(s.LearningRate(1) == 0.8f);
    CHECK(s.LearningRate(2) == 0.4f);
    CHECK(s.LearningRate(5) == 0.2f);
  }
}

TEST_CASE("local training is deterministic for a seed and learns a separable problem") {
  // Three Gaussian blobs in 2-D, one per class.
  std::mt19937 rng(5);
  std::normal_distribution<double> n(0, 0.5);
  Matrix x(300, 2), y(300, 1);
  for (int i = 0; i < 300; ++i) {
    const int c = i % 3;
    x(i, 0) = n(rng) + 3 * (c == 1);
    x(i, 1) = n(rng) + 3 * (c == 2);
    y(i, 0) = c;
  }
  const Mlp model(Spec({8}, Activation::kRelu, OutputKind::kSoftmax, 2, 3));
  OptimizerSpec sgd;
  sgd.lr = 0.1f;
  sgd.momentum = 0.9f;
  LocalTrainingOptions options;
  options.epochs = 5;
  options.batch_size = 16;
  options.seed = 11;
  const Eigen::VectorXf start = InitialParameters(model.spec(), 1);
  Result<LocalTrainingResult> a = TrainLocal(model, sgd, options, x, y, start);
  Result<LocalTrainingResult> b = TrainLocal(model, sgd, options, x, y, start);
  REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  REQUIRE(b.ok());
  CHECK(a->params == b->params);
  CHECK(a->batches == 5 * (300 / 16));
  const Targets t = *MakeTargets(model.spec(), y);
  const BatchStats before = model.Run(start, x.cast<float>(), t, nullptr);
  const BatchStats after = model.Run(a->params, x.cast<float>(), t, nullptr);
  CHECK(after.loss_sum < 0.2 * before.loss_sum);
  CHECK(after.correct >= 290);

  // The rows as floats, from the caller (the site keeps them across rounds): the same steps; and
  // they are what training reads (other values, other steps).
  const auto kept_rows = std::make_shared<const RowMajorF>(RowMajorFloat(x));
  const auto doubled = std::make_shared<const RowMajorF>(RowMajorFloat(Matrix(2 * x)));
  const auto short_rows = std::make_shared<const RowMajorF>(RowMajorFloat(Matrix(x.topRows(299))));
  int asked = 0;
  std::shared_ptr<const RowMajorF> given = kept_rows;
  options.float_rows = [&] {
    ++asked;
    return given;
  };
  Result<LocalTrainingResult> kept = TrainLocal(model, sgd, options, x, y, start);
  REQUIRE(kept.ok());
  CHECK(kept->params == a->params);
  given = doubled;
  CHECK(TrainLocal(model, sgd, options, x, y, start)->params != a->params);
  given = short_rows;
  CHECK(TrainLocal(model, sgd, options, x, y, start).status().code() == StatusCode::kInternal);
  CHECK(asked == 3);
  // Asked only once the call's settings are checked: a refused call costs no conversion.
  options.batch_size = 301;
  CHECK_FALSE(TrainLocal(model, sgd, options, x, y, start).ok());
  CHECK(asked == 3);
  options.batch_size = 16;
  options.float_rows = nullptr;

  options.seed = 12;
  CHECK(TrainLocal(model, sgd, options, x, y, start)->params != a->params);

  options.batch_size = 301;
  CHECK(TrainLocal(model, sgd, options, x, y, start)
            .status()
            .message()
            .find("batch size 301 does not fit this site's 300 rows") != std::string::npos);
  options.batch_size = 16;
  Matrix bad = y;
  bad(7, 0) = 3;
  // Says what is wrong without quoting the protected row or value.
  const std::string bad_label = TrainLocal(model, sgd, options, x, bad, start).status().message();
  CHECK(bad_label.find("the label column has values outside the model's classes 0..2") != std::string::npos);
  CHECK(bad_label.find('3') == std::string::npos);
  CHECK(bad_label.find('8') == std::string::npos);
  CHECK(TrainLocal(model, sgd, options, Matrix(x.leftCols(1)), y, start).status().message().find("takes 2 inputs") !=
        std::string::npos);
}

TEST_CASE("accrued gradients are the mean of each batch's gradient at the start") {
  const Mlp model(Spec({5}, Activation::kTanh, OutputKind::kLinear, 3, 2));
  const Matrix x = testing::NormalMatrix(12, 3, 8), y = testing::NormalMatrix(12, 2, 9);
  const Eigen::VectorXf start = InitialParameters(model.spec(), 4);
  OptimizerSpec sgd;
  LocalTrainingOptions options;
  options.accrue_gradients = true;
  options.seed = 3;
  auto accrued = [&](int64_t batch_size, int64_t first, int64_t batches) {
    options.batch_size = batch_size;
    options.first_batch = first;
    options.batches = batches;
    Result<LocalTrainingResult> r = TrainLocal(model, sgd, options, x, y, start);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->params == start);  // accruing takes no step
    return r->accrued;
  };
  // One batch of every row: the gradient of the whole set.
  Eigen::VectorXf whole;
  model.Run(start, x.cast<float>(), *MakeTargets(model.spec(), y), &whole);
  CHECK((accrued(12, 0, 1) - whole).cwiseAbs().maxCoeff() < 1e-6f);
  // Three batches, of one row and of four: the mean of the three batches' own gradients.
  for (const int64_t size : {1, 4}) {
    CAPTURE(size);
    const Eigen::VectorXf mean = (accrued(size, 0, 1) + accrued(size, 1, 1) + accrued(size, 2, 1)) / 3.0f;
    CHECK((accrued(size, 0, 3) - mean).cwiseAbs().maxCoeff() < 1e-6f);
  }
}

TEST_CASE("bad model and optimizer settings are named") {
  CHECK(ParseModelSpec({{"hidden", {64, 0}}}, "model").status().message().find("model.hidden") != std::string::npos);
  CHECK(ParseModelSpec({{"activation", "swish"}}, "model").status().message().find("unknown activation 'swish'") !=
        std::string::npos);
  CHECK(ParseModelSpec({{"layers", 2}}, "model").status().message().find("layers: unknown field") != std::string::npos);
  CHECK(ParseOptimizerSpec({{"name", "rmsprop"}}, "optimizer").status().message().find("unknown optimizer 'rmsprop'") !=
        std::string::npos);
  CHECK(ParseOptimizerSpec({{"lr", -0.1}}, "optimizer").status().message().find("optimizer.lr") != std::string::npos);
  CHECK(ParseOptimizerSpec({{"nesterov", true}}, "optimizer").status().message().find("needs momentum") !=
        std::string::npos);
  Result<OptimizerSpec> ok = ParseOptimizerSpec({{"name", "sgd"},
                                                 {"lr", 0.05},
                                                 {"momentum", 0.9},
                                                 {"nesterov", true},
                                                 {"schedule", {{"name", "step"}, {"step", 10}}}},
                                                "optimizer");
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->step_every == 10);
  ModelSpec spec = *ParseModelSpec({{"hidden", {64, 32}}}, "model");
  spec.inputs = 784;
  spec.outputs = 10;
  CHECK(spec.parameter_count() == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10);
}

}  // namespace fedra

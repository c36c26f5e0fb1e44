#include "site-agent/trainer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <span>

#include "site-agent/blas.h"
#include "site-agent/gpu_trainer.h"

namespace fedra {
namespace {

MatrixF Activate(Activation a, const MatrixF& z) {
  switch (a) {
    case Activation::kRelu: return z.cwiseMax(0.0f);
    case Activation::kTanh: return z.array().tanh().matrix();
    case Activation::kSigmoid: return (1.0f / (1.0f + (-z.array()).exp())).matrix();
  }
  return z;
}

// d activation / d z, from the activation's output `h` (and z for relu).
MatrixF ActivationSlope(Activation a, const MatrixF& z, const MatrixF& h) {
  switch (a) {
    case Activation::kRelu: return (z.array() > 0.0f).cast<float>().matrix();
    case Activation::kTanh: return (1.0f - h.array().square()).matrix();
    case Activation::kSigmoid: return (h.array() * (1.0f - h.array())).matrix();
  }
  return MatrixF::Ones(z.rows(), z.cols());
}

// The rows of one epoch, in order: a seeded shuffle of the site's `rows`, cut to `epoch_rows`
// when fewer (a subsample), or followed by further shuffles when more (replication).
std::vector<Eigen::Index> EpochOrder(Eigen::Index rows, int64_t epoch_rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Eigen::Index> order;
  order.reserve(static_cast<size_t>(epoch_rows) + static_cast<size_t>(rows));
  std::vector<Eigen::Index> pass(static_cast<size_t>(rows));
  while (static_cast<int64_t>(order.size()) < epoch_rows) {
    std::iota(pass.begin(), pass.end(), 0);
    std::shuffle(pass.begin(), pass.end(), rng);
    order.insert(order.end(), pass.begin(), pass.end());
  }
  order.resize(static_cast<size_t>(epoch_rows));
  return order;
}

// One batch of local training on some device: the loop over batches above is shared.
class StepBackend {
 public:
  virtual ~StepBackend() = default;
  // Trains on `rows` of the site's data at `epoch`'s learning rate; returns the batch's loss
  // statistics, measured before the step (or only its rows, where Finish adds the rest).
  virtual Result<BatchStats> Step(std::span<const Eigen::Index> rows, int epoch) = 0;
  // The parameters after the steps, and in accrual mode the summed gradients.
  virtual Status Finish(LocalTrainingResult* out) = 0;
};

class CpuBackend final : public StepBackend {
 public:
  CpuBackend(const Mlp& model, const OptimizerSpec& optimizer, const LocalTrainingOptions& options,
             std::shared_ptr<const RowMajorF> x, Targets targets, Eigen::VectorXf params)
      : model_(model),
        options_(options),
        x_(std::move(x)),
        targets_(std::move(targets)),
        params_(std::move(params)),
        start_(options.prox_mu > 0 ? params_ : Eigen::VectorXf()),
        optimizer_(optimizer, params_.size()),
        batch_x_(options.batch_size, x_->cols()) {
    if (model.spec().output == OutputKind::kSoftmax)
      batch_targets_.classes.resize(options.batch_size);
    else
      batch_targets_.values.resize(options.batch_size, targets_.values.cols());
  }

  Result<BatchStats> Step(std::span<const Eigen::Index> rows, int epoch) override {
    const bool softmax = model_.spec().output == OutputKind::kSoftmax;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto b = static_cast<Eigen::Index>(i);
      batch_x_.row(b) = x_->row(rows[i]);
      if (softmax)
        batch_targets_.classes(b) = targets_.classes(rows[i]);
      else
        batch_targets_.values.row(b) = targets_.values.row(rows[i]);
    }
    const BatchStats s = model_.Run(params_, batch_x_, batch_targets_, &gradient_);
    if (options_.accrue_gradients) {
      // The first batch's gradient is taken as it is: no model-sized zeroing and adding.
      if (accrued_.size() == 0) {
        accrued_ = std::move(gradient_);
      } else {
        accrued_ += gradient_;
      }
      return s;
    }
    if (options_.prox_mu > 0) gradient_ += options_.prox_mu * (params_ - start_);
    optimizer_.Step(&params_, std::move(gradient_), epoch);
    gradient_ = Eigen::VectorXf();
    return s;
  }

  Status Finish(LocalTrainingResult* out) override {
    // Before params_ moves: no batch at all accrues zeros of its size.
    out->accrued =
        options_.accrue_gradients && accrued_.size() == 0 ? Eigen::VectorXf::Zero(params_.size()) : std::move(accrued_);
    out->params = std::move(params_);
    return Status::Ok();
  }

 private:
  const Mlp& model_;
  const LocalTrainingOptions& options_;
  const std::shared_ptr<const RowMajorF> x_;  // row-major: a batch gathers whole rows, each one contiguous
  const Targets targets_;
  Eigen::VectorXf params_, start_, gradient_, accrued_;
  Optimizer optimizer_;
  MatrixF batch_x_;
  Targets batch_targets_;
};

class GpuBackend final : public StepBackend {
 public:
  static Result<std::unique_ptr<StepBackend>> Create(const Mlp& model, const OptimizerSpec& optimizer,
                                                     const LocalTrainingOptions& options, const RowMajorF& x,
                                                     const Targets& targets, const Eigen::VectorXf& params) {
    const ModelSpec& m = model.spec();
    GpuTrainingSpec spec;
    spec.widths = m.widths();
    spec.activation = static_cast<int>(m.activation);
    spec.softmax = m.output == OutputKind::kSoftmax;
    spec.input_scale = m.input_scale;
    spec.optimizer = static_cast<int>(optimizer.kind);
    spec.momentum = optimizer.momentum;
    spec.nesterov = optimizer.nesterov;
    spec.beta1 = optimizer.beta1;
    spec.beta2 = optimizer.beta2;
    spec.epsilon = optimizer.epsilon;
    spec.weight_decay = optimizer.weight_decay;
    spec.prox_mu = options.prox_mu;
    spec.accrue_gradients = options.accrue_gradients;
    const RowMajorF tr = targets.values;
    const Eigen::Matrix<int32_t, Eigen::Dynamic, 1> classes = targets.classes.cast<int32_t>();
    FEDRA_ASSIGN_OR_RETURN(
        std::unique_ptr<GpuTrainer> trainer,
        GpuTrainer::Create(spec, x.data(), x.rows(), classes.data(), tr.data(), params.data(), params.size()));
    return std::unique_ptr<StepBackend>(new GpuBackend(optimizer, options, params.size(), std::move(trainer)));
  }

  Result<BatchStats> Step(std::span<const Eigen::Index> rows, int epoch) override {
    indices_.assign(rows.begin(), rows.end());
    FEDRA_RETURN_IF_ERROR(
        trainer_->Step(indices_.data(), static_cast<int>(rows.size()), optimizer_.LearningRate(epoch)));
    BatchStats s;  // the loss and correct predictions are summed on the GPU, added in Finish
    s.rows = static_cast<int64_t>(rows.size());
    return s;
  }

  Status Finish(LocalTrainingResult* out) override {
    out->params.resize(size_);
    if (options_.accrue_gradients) out->accrued.resize(size_);
    return trainer_->Download(out->params.data(), options_.accrue_gradients ? out->accrued.data() : nullptr,
                              &out->stats.loss_sum, &out->stats.correct);
  }

 private:
  GpuBackend(const OptimizerSpec& optimizer, const LocalTrainingOptions& options, int64_t size,
             std::unique_ptr<GpuTrainer> trainer)
      : optimizer_(optimizer), options_(options), size_(size), trainer_(std::move(trainer)) {}

  const OptimizerSpec optimizer_;
  const LocalTrainingOptions& options_;
  const int64_t size_;
  std::unique_ptr<GpuTrainer> trainer_;
  std::vector<int32_t> indices_;
};

}  // namespace

std::vector<int64_t> Mlp::Forward(const Eigen::Ref<const Eigen::VectorXf>& params, const Eigen::Ref<const MatrixF>& x,
                                  bool rows_as_columns, std::vector<MatrixF>* z, std::vector<MatrixF>* h) const {
  const size_t layers = widths_.size() - 1;
  const Eigen::Index rows = rows_as_columns ? x.cols() : x.rows();
  z->resize(layers);
  h->resize(layers + 1);
  if (!rows_as_columns) (*h)[0] = spec_.input_scale == 1 ? MatrixF(x) : MatrixF(x / spec_.input_scale);
  int64_t at = 0;
  std::vector<int64_t> offsets(layers);
  for (size_t l = 0; l < layers; ++l) {
    offsets[l] = at;
    const int in = widths_[l], out = widths_[l + 1];
    Eigen::Map<const MatrixF> w(params.data() + at, out, in);
    Eigen::Map<const Eigen::VectorXf> b(params.data() + at + int64_t{out} * in, out);
    (*z)[l].resize(rows, out);
    if (l == 0 && rows_as_columns) {
      // The rows as they lie, transposed by the product itself; scaled after it, which is the same
      // up to rounding (the product is linear).
      FloatProduct(x, true, w, true, (*z)[l]);
      if (spec_.input_scale != 1) (*z)[l] /= spec_.input_scale;
    } else {
      FloatProduct((*h)[l], false, w, true, (*z)[l]);
    }
    (*z)[l].rowwise() += b.transpose();
    (*h)[l + 1] = l + 1 < layers ? Activate(spec_.activation, (*z)[l]) : (*z)[l];
    at += int64_t{out} * in + out;
  }
  return offsets;
}

BatchStats Mlp::Score(const Eigen::Ref<const Eigen::VectorXf>& params, const RowMajorF& x,
                      const Targets& targets) const {
  std::vector<MatrixF> z, h;
  // Row-major rows x inputs lie as column-major inputs x rows.
  Forward(params, Eigen::Map<const MatrixF>(x.data(), x.cols(), x.rows()), true, &z, &h);
  return Loss(h.back(), targets, nullptr);
}

MatrixF Mlp::Outputs(const Eigen::VectorXf& params, const MatrixF& x) const {
  std::vector<MatrixF> z, h;
  Forward(params, x, false, &z, &h);
  return std::move(h.back());
}

BatchStats Mlp::Loss(const MatrixF& outputs, const Targets& targets, MatrixF* delta) const {
  const Eigen::Index rows = outputs.rows();
  BatchStats stats;
  stats.rows = rows;
  if (delta) delta->resize(rows, outputs.cols());
  if (spec_.output == OutputKind::kSoftmax) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      const float top = outputs.row(i).maxCoeff();
      Eigen::RowVectorXf e = (outputs.row(i).array() - top).exp();
      const float total = e.sum();
      const int label = targets.classes(i);
      stats.loss_sum += std::log(total) + top - outputs(i, label);
      Eigen::Index best;
      outputs.row(i).maxCoeff(&best);
      stats.correct += best == label;
      if (!delta) continue;
      delta->row(i) = e / total;
      (*delta)(i, label) -= 1.0f;
    }
  } else if (delta) {
    *delta = outputs - targets.values;
    stats.loss_sum = 0.5 * static_cast<double>(delta->squaredNorm());
  } else {
    stats.loss_sum = 0.5 * static_cast<double>((outputs - targets.values).squaredNorm());
  }
  return stats;
}

BatchStats Mlp::Run(const Eigen::VectorXf& params, const MatrixF& x, const Targets& targets,
                    Eigen::VectorXf* gradient) const {
  const size_t layers = widths_.size() - 1;
  // Forward, keeping each layer's pre-activation and output for the backward pass.
  std::vector<MatrixF> z, h;
  const std::vector<int64_t> offsets = Forward(params, x, false, &z, &h);
  const Eigen::Index rows = x.rows();
  MatrixF delta;  // d (summed loss) / d output
  const BatchStats stats = Loss(h[layers], targets, &delta);
  if (!gradient) return stats;

  // Backward: gradients of the mean loss. Every layer's weights and biases are assigned below,
  // so the vector is not zeroed first (megabytes a step).
  gradient->resize(params.size());
  delta /= static_cast<float>(rows);
  for (size_t l = layers; l-- > 0;) {
    const int in = widths_[l], out = widths_[l + 1];
    Eigen::Map<const MatrixF> w(params.data() + offsets[l], out, in);
    Eigen::Map<MatrixF> dw(gradient->data() + offsets[l], out, in);
    Eigen::Map<Eigen::VectorXf> db(gradient->data() + offsets[l] + int64_t{out} * in, out);
    if (rows == 1) {
      // An outer product, written once: the general product zeroes its megabytes first.
      dw.noalias() = delta.row(0).transpose() * h[l].row(0);
    } else {
      FloatProduct(delta, true, h[l], false, dw);
    }
    db = delta.colwise().sum().transpose();
    if (l > 0) {
      MatrixF back(rows, in);
      FloatProduct(delta, false, w, false, back);
      delta = back.cwiseProduct(ActivationSlope(spec_.activation, z[l - 1], h[l]));
    }
  }
  return stats;
}

// Copied in square tiles so that a tile's reads (down columns) and writes (along rows) stay
// within a few pages; a plain transposing copy strides across the whole matrix for every row (a
// fifth slower for 20,000 x 784 here).
RowMajorF RowMajorFloat(const Matrix& x) {
  constexpr Eigen::Index kTile = 64;
  RowMajorF out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); i += kTile) {
    const Eigen::Index rows = std::min(kTile, x.rows() - i);
    for (Eigen::Index j = 0; j < x.cols(); j += kTile) {
      const Eigen::Index cols = std::min(kTile, x.cols() - j);
      out.block(i, j, rows, cols) = x.block(i, j, rows, cols).cast<float>();
    }
  }
  return out;
}

bool AreClassCodes(const Matrix& y, double classes) {
  const auto& v = y.col(0).array();
  return (v == v.floor() && v >= 0 && v < classes).all();
}

Result<Targets> MakeTargets(const ModelSpec& spec, const Matrix& y) {
  Targets t;
  if (spec.output == OutputKind::kLinear) {
    if (y.cols() != spec.outputs) {
      return InvalidArgument("the model has " + std::to_string(spec.outputs) + " outputs, the targets " +
                             std::to_string(y.cols()) + " columns");
    }
    t.values = y.cast<float>();
    return t;
  }
  if (y.cols() != 1) return InvalidArgument("a softmax model needs one label column, got " + std::to_string(y.cols()));
  t.classes.resize(y.rows());
  // The message says what is wrong, never which row or value: the labels may be protected data.
  if (!AreClassCodes(y, spec.outputs)) {
    return InvalidArgument("the label column has values outside the model's classes 0.." +
                           std::to_string(spec.outputs - 1) + " (or that are not whole numbers)");
  }
  for (Eigen::Index i = 0; i < y.rows(); ++i) t.classes(i) = static_cast<int>(y(i, 0));
  return t;
}

Result<LocalTrainingResult> TrainLocal(const Mlp& model, const OptimizerSpec& optimizer,
                                       const LocalTrainingOptions& options, const Matrix& x, const Matrix& y,
                                       Eigen::VectorXf params) {
  const ModelSpec& spec = model.spec();
  if (x.cols() != spec.inputs) {
    return InvalidArgument("the model takes " + std::to_string(spec.inputs) + " inputs, the data has " +
                           std::to_string(x.cols()) + " feature columns");
  }
  if (y.rows() != x.rows()) return InvalidArgument("features and targets have different row counts");
  if (params.size() != spec.parameter_count()) {
    return InvalidArgument("expected " + std::to_string(spec.parameter_count()) + " parameters, got " +
                           std::to_string(params.size()));
  }
  if (x.rows() == 0) return InvalidArgument("no rows to train on");
  if (options.batch_size < 1 || (options.epoch_rows == 0 && options.batch_size > x.rows())) {
    return InvalidArgument("batch size " + std::to_string(options.batch_size) + " does not fit this site's " +
                           std::to_string(x.rows()) + " rows");
  }
  const int64_t epoch_rows = options.epoch_rows > 0 ? options.epoch_rows : x.rows();
  if (options.batch_size > epoch_rows) {
    return InvalidArgument("batch size " + std::to_string(options.batch_size) + " does not fit an epoch of " +
                           std::to_string(epoch_rows) + " rows");
  }
  FEDRA_ASSIGN_OR_RETURN(Targets targets, MakeTargets(spec, y));
  const std::shared_ptr<const RowMajorF> rows =
      options.float_rows ? options.float_rows() : std::make_shared<const RowMajorF>(RowMajorFloat(x));
  if (!rows || rows->rows() != x.rows() || rows->cols() != x.cols())
    return Internal("the float copy of the training rows is not of their shape");
  std::unique_ptr<StepBackend> backend;
  if (options.use_gpu) {
    FEDRA_ASSIGN_OR_RETURN(backend, GpuBackend::Create(model, optimizer, options, *rows, targets, params));
  } else {
    backend = std::make_unique<CpuBackend>(model, optimizer, options, rows, std::move(targets), std::move(params));
  }
  LocalTrainingResult out;
  std::vector<Eigen::Index> order;
  const int64_t per_epoch =
      epoch_rows / options.batch_size;  // a last partial batch is left for the next epoch's shuffle
  const int64_t total = options.batches > 0 ? options.batches : int64_t{options.epochs} * per_epoch;
  const int64_t first = options.batches > 0 ? options.first_batch : int64_t{options.first_epoch} * per_epoch;
  for (int64_t b = first; b < first + total; ++b) {
    const int epoch = static_cast<int>(b / per_epoch);
    const int64_t slot = b % per_epoch;
    if (slot == 0 || b == first) order = EpochOrder(x.rows(), epoch_rows, options.seed + static_cast<uint64_t>(epoch));
    const std::span<const Eigen::Index> rows(order.data() + slot * options.batch_size,
                                             static_cast<size_t>(options.batch_size));
    FEDRA_ASSIGN_OR_RETURN(const BatchStats s, backend->Step(rows, epoch));
    out.stats.loss_sum += s.loss_sum;
    out.stats.correct += s.correct;
    out.stats.rows += s.rows;
    out.last_epoch = epoch;
    ++out.batches;
  }
  FEDRA_RETURN_IF_ERROR(backend->Finish(&out));
  if (options.accrue_gradients && out.batches > 1) out.accrued /= static_cast<float>(out.batches);
  return out;
}

}  // namespace fedra

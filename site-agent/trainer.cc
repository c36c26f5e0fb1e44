#include "site-agent/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

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

}  // namespace

BatchStats Mlp::Run(const Eigen::VectorXf& params, const MatrixF& x, const Targets& targets,
                    Eigen::VectorXf* gradient) const {
  const size_t layers = widths_.size() - 1;
  // Forward, keeping each layer's pre-activation and output for the backward pass.
  std::vector<MatrixF> z(layers), h(layers + 1);
  h[0] = spec_.input_scale == 1 ? x : MatrixF(x / spec_.input_scale);
  int64_t at = 0;
  std::vector<int64_t> offsets(layers);
  for (size_t l = 0; l < layers; ++l) {
    offsets[l] = at;
    const int in = widths_[l], out = widths_[l + 1];
    Eigen::Map<const MatrixF> w(params.data() + at, out, in);
    Eigen::Map<const Eigen::VectorXf> b(params.data() + at + int64_t{out} * in, out);
    z[l] = h[l] * w.transpose();
    z[l].rowwise() += b.transpose();
    h[l + 1] = l + 1 < layers ? Activate(spec_.activation, z[l]) : z[l];
    at += int64_t{out} * in + out;
  }
  const Eigen::Index rows = x.rows();
  BatchStats stats;
  stats.rows = rows;
  MatrixF delta(rows, widths_.back());  // d (summed loss) / d output
  if (spec_.output == OutputKind::kSoftmax) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      const float top = h[layers].row(i).maxCoeff();
      Eigen::RowVectorXf e = (h[layers].row(i).array() - top).exp();
      const float total = e.sum();
      const int label = targets.classes(i);
      stats.loss_sum += std::log(total) + top - h[layers](i, label);
      Eigen::Index best;
      h[layers].row(i).maxCoeff(&best);
      stats.correct += best == label;
      delta.row(i) = e / total;
      delta(i, label) -= 1.0f;
    }
  } else {
    delta = h[layers] - targets.values;
    stats.loss_sum = 0.5 * static_cast<double>(delta.squaredNorm());
  }
  if (!gradient) return stats;

  // Backward: gradients of the mean loss.
  gradient->setZero(params.size());
  delta /= static_cast<float>(rows);
  for (size_t l = layers; l-- > 0;) {
    const int in = widths_[l], out = widths_[l + 1];
    Eigen::Map<const MatrixF> w(params.data() + offsets[l], out, in);
    Eigen::Map<MatrixF> dw(gradient->data() + offsets[l], out, in);
    Eigen::Map<Eigen::VectorXf> db(gradient->data() + offsets[l] + int64_t{out} * in, out);
    dw.noalias() = delta.transpose() * h[l];
    db = delta.colwise().sum().transpose();
    if (l > 0) {
      MatrixF back = delta * w;
      delta = back.cwiseProduct(ActivationSlope(spec_.activation, z[l - 1], h[l]));
    }
  }
  return stats;
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
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const double label = y(i, 0);
    if (label != std::floor(label) || label < 0 || label >= spec.outputs) {
      return InvalidArgument("row " + std::to_string(i + 1) + " has label " + std::to_string(label) +
                             ", outside the model's classes 0.." + std::to_string(spec.outputs - 1));
    }
    t.classes(i) = static_cast<int>(label);
  }
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
  const MatrixF xf = x.cast<float>();
  const Eigen::VectorXf start = params;
  Optimizer opt(optimizer, params.size());
  LocalTrainingResult out;
  if (options.accrue_gradients) out.accrued = Eigen::VectorXf::Zero(params.size());
  Eigen::VectorXf gradient;
  std::vector<Eigen::Index> order;
  const int64_t per_epoch = epoch_rows / options.batch_size;  // a last partial batch is left for the next epoch's shuffle
  const int64_t total = options.batches > 0 ? options.batches : int64_t{options.epochs} * per_epoch;
  const int64_t first = options.batches > 0 ? options.first_batch : int64_t{options.first_epoch} * per_epoch;
  MatrixF bx(options.batch_size, x.cols());
  Targets bt;
  for (int64_t b = first; b < first + total; ++b) {
    const int epoch = static_cast<int>(b / per_epoch);
    const int64_t slot = b % per_epoch;
    if (slot == 0 || b == first) order = EpochOrder(x.rows(), epoch_rows, options.seed + static_cast<uint64_t>(epoch));
    if (spec.output == OutputKind::kSoftmax) bt.classes.resize(options.batch_size);
    else bt.values.resize(options.batch_size, targets.values.cols());
    for (int i = 0; i < options.batch_size; ++i) {
      const Eigen::Index row = order[static_cast<size_t>(slot * options.batch_size + i)];
      bx.row(i) = xf.row(row);
      if (spec.output == OutputKind::kSoftmax) bt.classes(i) = targets.classes(row);
      else bt.values.row(i) = targets.values.row(row);
    }
    const BatchStats s = model.Run(params, bx, bt, &gradient);
    out.stats.loss_sum += s.loss_sum;
    out.stats.correct += s.correct;
    out.stats.rows += s.rows;
    out.last_epoch = epoch;
    ++out.batches;
    if (options.accrue_gradients) {
      out.accrued += gradient;
      continue;
    }
    if (options.prox_mu > 0) gradient += options.prox_mu * (params - start);
    opt.Step(&params, std::move(gradient), epoch);
    gradient = Eigen::VectorXf();
  }
  if (options.accrue_gradients && out.batches > 0) out.accrued /= static_cast<float>(out.batches);
  out.params = std::move(params);
  return out;
}

}  // namespace fedra

#include "site-agent/functions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "common/code_table.h"
#include "common/float_conversion.h"
#include "federated/update_codec.h"
#include "site-agent/kmeans_stats.h"
#include "site-agent/model_outputs.h"
#include "site-agent/support.h"
#include "site-agent/trainer.h"

namespace fedra {

Status FunctionContext::CheckLabelsAsRead(int i, std::string_view function) const {
  if (((transformed_inputs >> i) & 1u) == 0) return Status::Ok();
  return PermissionDenied(std::string(function) + ": the labels (input " + std::to_string(i) +
                          ") of protected rows must be a column as read, not one changed by arithmetic");
}

namespace {

// Per-column count, sum and sum of squares: everything the master needs for means and
// variances, as a 3 x ncol aggregate.
Result<FunctionOutput> Moments(std::span<const Matrix* const> inputs, const MomentsParams&,
                               const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  FunctionOutput out;
  out.value.resize(3, x.cols());
  out.value.row(0).setConstant(static_cast<double>(x.rows()));
  out.value.row(1) = x.colwise().sum();
  out.value.row(2) = x.colwise().squaredNorm();
  // Column sums, as colSums: a common value times the rows plus what the other rows add.
  if (context.min_group_rows > 1) {
    out.support = FewestDiffering(context.spread ? *context.spread : SpreadPerColumn(x), x.rows());
  }
  return out;
}

// The most class codes a label column may use.
constexpr Eigen::Index kMaxClasses = 1 << 16;

// The rows of each class in a label column y (n x 1) of class codes 0..K-1: 1 x K counts, K the
// largest code at this site plus one. A class held by fewer rows than the context's minimum is
// left out, as statistical tables suppress small cells (with more classes where needed, so that
// what is left out adds up to the minimum too): its count is 0, and when it is the largest code,
// K does not reach it.
Result<FunctionOutput> ClassCounts(std::span<const Matrix* const> inputs, const ClassCountsParams&,
                                   const FunctionContext& context) {
  const Matrix& y = *inputs[0];
  FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(0, "classCounts"));
  if (y.cols() != 1) return InvalidArgument("classCounts: the label must be one column");
  if (!AreClassCodes(y, kMaxClasses)) {
    return InvalidArgument(
        "classCounts: the label column has values that are not class codes 0, 1, 2, ... (whole "
        "numbers below " +
        std::to_string(kMaxClasses) + ")");
  }
  Eigen::RowVectorXd counts = Eigen::RowVectorXd::Zero(y.rows() > 0 ? static_cast<Eigen::Index>(y.maxCoeff()) + 1 : 0);
  for (Eigen::Index i = 0; i < y.rows(); ++i) counts(static_cast<Eigen::Index>(y(i, 0))) += 1;
  const auto least = static_cast<double>(context.min_group_rows);
  // The row count is public, so what is left out must add up to at least the minimum too, or
  // subtracting the rest would give it: leave out the next smallest classes until it does.
  double hidden = 0;
  for (Eigen::Index c = 0; c < counts.size(); ++c) {
    if (counts(c) < least) hidden += counts(c), counts(c) = 0;
  }
  while (hidden > 0 && hidden < least) {
    Eigen::Index smallest = -1;
    for (Eigen::Index c = 0; c < counts.size(); ++c) {
      if (counts(c) > 0 && (smallest < 0 || counts(c) < counts(smallest))) smallest = c;
    }
    if (smallest < 0) break;
    hidden += counts(smallest);
    counts(smallest) = 0;
  }
  Eigen::Index classes = 0;
  double fewest = static_cast<double>(y.rows());
  for (Eigen::Index c = 0; c < counts.size(); ++c) {
    if (counts(c) > 0) {
      classes = c + 1;
      fewest = std::min(fewest, counts(c));
    }
  }
  FunctionOutput out;
  out.value = counts.head(classes);
  out.support = static_cast<uint64_t>(std::max(fewest, least));
  return out;
}

// A probability above which a row counts as decided by a logistic model.
constexpr double kDecided = 0.99;
// The most coefficients a logisticHessian may have: its output is their square.
constexpr Eigen::Index kMaxHessianParameters = 2048;

// A logistic model at this site's rows, with class 0 as the reference (its score is 0, as in R's
// glm and nnet::multinom): W ((d + intercept) x m) scores classes 1..m, so m = 1 is the binomial
// model and m + 1 is the number of classes. params.intercept says W's first row is the intercept.
struct LogisticRows {
  Matrix scores;         // n x m
  Matrix probabilities;  // n x m: of classes 1..m
  // log(1 + sum(exp(scores))) per row is shift + log_sum: a row's loss is then
  // (shift - its class's score) + log_sum, exact where its class has the top score.
  Eigen::VectorXd shift;            // max(0, scores)
  Eigen::VectorXd log_sum;          // log(exp(-shift) + sum(exp(scores - shift)))
  Eigen::VectorXd top_probability;  // per row, the most likely class's probability
};

Result<LogisticRows> ScoreLogistic(const Matrix& x, const Matrix& w, bool intercept, std::string_view function,
                                   const FunctionContext& context) {
  const Eigen::Index o = intercept ? 1 : 0;
  if (w.rows() != x.cols() + o) {
    return InvalidArgument(std::string(function) + ": W has " + std::to_string(w.rows()) + " rows, expected " +
                           std::to_string(x.cols() + o));
  }
  if (w.cols() < 1 || x.rows() == 0) return InvalidArgument(std::string(function) + ": empty input");
  LogisticRows rows;
  rows.scores = x * w.bottomRows(x.cols());
  if (intercept) rows.scores.rowwise() += w.row(0);
  const Eigen::Index n = x.rows(), m = w.cols();
  rows.probabilities.resize(n, m);
  rows.shift.resize(n);
  rows.log_sum.resize(n);
  rows.top_probability.resize(n);
  uint64_t undecided = 0;  // rows whose most likely class has probability at most kDecided
  for (Eigen::Index i = 0; i < n; ++i) {
    const double top = std::max(0.0, rows.scores.row(i).maxCoeff());  // the reference class scores 0
    const Eigen::RowVectorXd e = (rows.scores.row(i).array() - top).exp();
    const double reference = std::exp(-top);
    const double z = reference + e.sum();
    rows.probabilities.row(i) = e / z;
    rows.shift(i) = top;
    rows.log_sum(i) = std::log(z);
    rows.top_probability(i) = std::max(reference, e.maxCoeff()) / z;
    undecided += rows.top_probability(i) <= kDecided;
  }
  // Coefficients scaled up until every row is decided turn sums over the rows into sums over a
  // half-space the master chose, which can hold a single row. On private-aggregate rows enough
  // rows must stay undecided to blur any such boundary.
  if (context.min_group_rows > 1 && undecided < context.min_group_rows) {
    return PermissionDenied(
        "logistic: these coefficients decide nearly every row at this site (fewer than the "
        "site's minimum of " +
        std::to_string(context.min_group_rows) +
        " rows keep a probability at most 0.99); statistics of such a separating model could "
        "single out rows of private-aggregate data; a penalty (lambda > 0) keeps the fit from separating");
  }
  return rows;
}

// Logistic-regression statistics for W at this site's rows, summed over them: inputs X (n x d),
// y (n x 1, class codes 0..m), W as in LogisticRows. Output ((d + intercept) + 4) x m: the
// gradient of the summed log-loss, then, in the first column, the summed loss, the correct
// predictions, the row count, and the rows whose fitted class is numerically certain
// (probability within 10 epsilon of 1, where R's glm warns).
Result<FunctionOutput> LogisticStats(std::span<const Matrix* const> inputs, const LogisticStatsParams& params,
                                     const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& y = *inputs[1];
  const Matrix& w = *inputs[2];
  const Eigen::Index o = params.intercept ? 1 : 0;
  const Eigen::Index m = w.cols();
  if (y.rows() != x.rows() || y.cols() != 1) return InvalidArgument("logistic: y must be nrow(X) x 1");
  FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "logisticStats"));
  if (!AreClassCodes(y, static_cast<double>(m + 1))) {
    return InvalidArgument("logistic: the label column has values that are not class codes 0.." + std::to_string(m) +
                           " (input 1)");
  }
  FEDRA_ASSIGN_OR_RETURN(LogisticRows rows, ScoreLogistic(x, w, params.intercept, "logisticStats", context));
  Matrix residual = rows.probabilities;  // d loss / d score
  Eigen::VectorXd row_loss(x.rows());
  double correct = 0, certain = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const auto c = static_cast<Eigen::Index>(y(i, 0));
    if (c > 0) residual(i, c - 1) -= 1;
    row_loss(i) = (rows.shift(i) - (c > 0 ? rows.scores(i, c - 1) : 0.0)) + rows.log_sum(i);
    Eigen::Index best = 0;  // the most likely class; the reference class scores 0
    if (const double top = rows.scores.row(i).maxCoeff(&best); top > 0) {
      best += 1;
    } else {
      best = 0;
    }
    correct += best == c;
    certain += rows.top_probability(i) > 1 - 10 * std::numeric_limits<double>::epsilon();
  }
  const double withheld = std::numeric_limits<double>::quiet_NaN();
  FunctionOutput out;
  out.value = Matrix::Zero(w.rows() + 4, m);
  if (params.intercept) out.value.row(0) = residual.colwise().sum();
  out.value.middleRows(o, x.cols()) = x.transpose() * residual;
  out.value(w.rows(), 0) = row_loss.sum();
  out.value(w.rows() + 1, 0) = context.withhold_decision_counts() ? withheld : correct;
  out.value(w.rows() + 2, 0) = static_cast<double>(x.rows());
  out.value(w.rows() + 3, 0) = context.withhold_decision_counts() ? withheld : certain;
  if (context.min_group_rows > 1) {
    // The features' gradient rows pair each column with the residuals; the intercept's row and
    // the loss sum the residuals and the losses themselves, which a shift can make rare.
    const std::vector<ColumnSpread> residual_spread = SpreadPerColumn(residual);
    out.support = CoSupport(x, residual, context.min_group_rows, context.spread, &residual_spread);
    if (params.intercept) out.support = std::min(out.support, FewestDiffering(residual_spread, out.support));
    out.support = std::min(out.support, FewestDiffering(SpreadPerColumn(Matrix(row_loss)), out.support));
  }
  return out;
}

// The Hessian of the summed log-loss at W, for Newton's method: inputs X (n x d) and W as in
// LogisticRows; output (m (d + intercept)) squared, over W's entries in column-major order.
// Block (k, l) is t(X1) %*% diag(p_k (delta_kl - p_l)) %*% X1, with X1 = [1 X] when params.intercept.
Result<FunctionOutput> LogisticHessian(std::span<const Matrix* const> inputs, const LogisticHessianParams& params,
                                       const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& w = *inputs[1];
  const Eigen::Index o = params.intercept ? 1 : 0, d = x.cols() + o, m = w.cols();
  if (d * m > kMaxHessianParameters) {
    return InvalidArgument("logisticHessian: " + std::to_string(d * m) + " coefficients, at most " +
                           std::to_string(kMaxHessianParameters));
  }
  FEDRA_ASSIGN_OR_RETURN(LogisticRows rows, ScoreLogistic(x, w, params.intercept, "logisticHessian", context));
  Matrix x1(x.rows(), d);
  if (params.intercept) x1.col(0).setOnes();
  x1.rightCols(x.cols()) = x;
  const Matrix& p = rows.probabilities;
  FunctionOutput out;
  out.value.resize(d * m, d * m);
  Matrix weights(x.rows(), m * (m + 1) / 2);  // one column per block (k, l), l >= k
  for (Eigen::Index k = 0, b = 0; k < m; ++k) {
    for (Eigen::Index l = k; l < m; ++l, ++b) {
      Matrix block;
      if (k == l) {  // weights p (1 - p) >= 0: a symmetric rank update, half the work
        weights.col(b) = p.col(k).array() * (1 - p.col(k).array());
        const Matrix root = x1.array().colwise() * weights.col(b).array().sqrt();
        block = Matrix::Zero(d, d);
        block.selfadjointView<Eigen::Lower>().rankUpdate(root.transpose());
        block.triangularView<Eigen::StrictlyUpper>() = block.transpose();
      } else {
        weights.col(b) = -(p.col(k).array() * p.col(l).array());
        block = x1.transpose() * (x1.array().colwise() * weights.col(b).array()).matrix();
      }
      out.value.block(k * d, l * d, d, d) = block;
      out.value.block(l * d, k * d, d, d) = block.transpose();
    }
  }
  if (context.min_group_rows > 1) {
    // Each entry pairs two columns with a weight per row, which rests on the rows that differ.
    const std::vector<ColumnSpread> weight_spread = SpreadPerColumn(weights);
    out.support = CoSupport(x, weights, context.min_group_rows, context.spread, &weight_spread);
    out.support = std::min(out.support, FewestDiffering(weight_spread, out.support));
  }
  return out;
}

// An update and its kTrainingStats statistics made ready for a secure sum, as WeighUpdateParams
// says: weighted, (scale x rows) x the values and the kWeighedStats; unweighted, the values alone.
template <typename T>
Matrix Weighed(std::span<const T> values, std::span<const double> stats, const WeighUpdateParams& params) {
  const auto n = static_cast<Eigen::Index>(values.size());
  const double rows = stats[kRowsTrained], correct = stats[kCorrect], scale = params.scale;
  Matrix out(n + (params.weighted ? kWeighedStats : 0), 1);
  const double weight = params.weighted ? scale * rows : 1;
  if constexpr (std::is_same_v<T, float>) {
    WidenToDouble(values, out.data(), weight);
  } else {
    out.topRows(n) = weight * Eigen::Map<const Eigen::VectorXd>(values.data(), n);
  }
  if (!params.weighted) return out;
  out(n + kWeighedRows, 0) = scale * rows;
  out(n + kWeighedLoss, 0) = scale * stats[kLossSum];
  // A count the site withholds (NaN) is sent as 0 and flagged, so that the sum stays finite.
  out(n + kWeighedCorrect, 0) = std::isfinite(correct) ? scale * correct : 0;
  out(n + kWeighedWithheld, 0) = std::isfinite(correct) ? 0 : 1;
  return out;
}

// Input `i`, the model's parameters as one column of floats: where the master's float32 value is
// held as it came, a view of it; else the double value narrowed into `narrowed`.
Result<Eigen::Map<const Eigen::VectorXf>> ParametersInput(std::span<const Matrix* const> inputs,
                                                          const FunctionContext& context, size_t i,
                                                          Eigen::VectorXf* narrowed) {
  const Eigen::MatrixXf* floats = i < context.float_inputs.size() ? context.float_inputs[i] : nullptr;
  const Eigen::Index cols = floats ? floats->cols() : inputs[i]->cols();
  if (cols != 1) return InvalidArgument("the parameters must be one column, not " + std::to_string(cols));
  if (floats) return Eigen::Map<const Eigen::VectorXf>(floats->data(), floats->rows());
  *narrowed = Narrowed(inputs[i]->col(0));
  return Eigen::Map<const Eigen::VectorXf>(narrowed->data(), narrowed->size());
}

// Local training from the broadcast parameters P (a column): inputs X (n x inputs), y (n x 1
// labels or n x outputs targets), P; params as TrainLocalParams says: local steps, then new - P,
// or the batches' mean gradient at P and no steps. Output, one column:
// the update, then kTrainingStats statistics: the summed training loss, the correct predictions
// and the rows trained on, measured on each batch before its step, and the last batch's epoch.
// With params.pack, the same column returns packed (PackLosslessUpdate) and the value is only the
// statistics; with params.weigh, the value is what weighUpdate would make of the column.
Result<FunctionOutput> TrainLocalFunction(std::span<const Matrix* const> inputs, const TrainLocalParams& params,
                                          const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& y = *inputs[1];
  if (params.pack && !context.returned_only) {
    return InvalidArgument(
        "trainLocal: params.pack returns the update and stores nothing: ask for output 0 "
        "with \"return\"");
  }
  if (params.model.output == OutputKind::kSoftmax) FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "trainLocal"));
  LocalTrainingOptions options;
  options.epochs = params.epochs;
  options.batches = params.batches;
  options.batch_size = params.batch_size;
  options.seed = params.seed;
  options.first_epoch = params.first_epoch;
  options.first_batch = params.first_batch;
  options.epoch_rows = params.epoch_rows;
  options.prox_mu = static_cast<float>(params.prox_mu);
  options.accrue_gradients = params.gradient;
  options.use_gpu = context.use_gpu;
  options.float_rows = context.float_rows;
  Eigen::VectorXf narrowed;
  Result<Eigen::Map<const Eigen::VectorXf>> p = ParametersInput(inputs, context, 2, &narrowed);
  if (!p.ok()) return p.status().WithContext("trainLocal");
  const Eigen::Map<const Eigen::VectorXf>& start = *p;
  FEDRA_ASSIGN_OR_RETURN(LocalTrainingResult r,
                         TrainLocal(Mlp(params.model), params.optimizer, options, x, y, Eigen::VectorXf(start)));
  // The update: the accrued gradients, or the trained parameters less float(P) as training started.
  Eigen::VectorXf& update = options.accrue_gradients ? r.accrued : r.params;
  if (update.size() != start.size()) return Internal("trainLocal: the update does not match the parameters");
  if (!options.accrue_gradients) update -= start;
  const double correct = context.withhold_decision_counts() ? std::numeric_limits<double>::quiet_NaN()
                                                            : static_cast<double>(r.stats.correct);
  const std::array<double, kTrainingStats> stats = {r.stats.loss_sum, correct, static_cast<double>(r.stats.rows),
                                                    static_cast<double>(r.last_epoch)};
  FunctionOutput out;
  const std::span<const float> values(update.data(), static_cast<size_t>(update.size()));
  if (params.pack) {
    out.packed = PackLosslessUpdate(values, stats);
    out.value = Eigen::Map<const Matrix>(stats.data(), kTrainingStats, 1);
  } else if (params.weigh) {
    out.value = Weighed(values, stats, *params.weigh);
    out.meta["weighed"] = true;  // what a site that ignores "weigh" would not say
  } else {
    out.value.resize(start.size() + kTrainingStats, 1);
    WidenToDouble(values, out.value.data());
    out.value.col(0).tail(kTrainingStats) = Eigen::Map<const Eigen::VectorXd>(stats.data(), kTrainingStats);
  }
  // Each step's gradient summarises one batch: a batch of one row could be read back out of the
  // delta, so the release rule sees the batch as the smallest group — the distinct rows in it,
  // which are fewer when an epoch replicates the rows.
  const int64_t distinct = std::min<int64_t>(options.batch_size, x.rows());
  out.support = static_cast<uint64_t>(params.epoch_rows > x.rows() ? distinct / 2 : distinct);
  return out;
}

// Packs a trainLocal output U (the update, then `params.stats` statistics) for the trip to the
// parameter server, compressed as params.compression says (federated/update_codec.h). With a
// residual R (what earlier compression left out), U + R is what gets compressed, and the
// output variable stores the new residual; the packed update is what a return sends back.
Result<FunctionOutput> PackUpdateFunction(std::span<const Matrix* const> inputs, const PackUpdateParams& params,
                                          const FunctionContext&) {
  const Matrix& u = *inputs[0];
  const int64_t stats = params.stats;
  if (u.cols() != 1 || u.rows() < stats) return InvalidArgument("packUpdate: the update must be one column");
  const Eigen::Index n = u.rows() - stats;
  const CompressionSpec& spec = params.compression;
  const std::span<const double> tail(u.data() + n, static_cast<size_t>(stats));
  if (inputs.size() == 1 && spec.as_is()) {  // no residual, nothing to take off
    FunctionOutput out;
    out.packed = PackLosslessUpdate(std::span<const double>(u.data(), static_cast<size_t>(n)), tail);
    return out;
  }
  Eigen::VectorXf values = Narrowed(u.col(0).head(n));
  if (inputs.size() > 1) {
    if (inputs[1]->rows() != n || inputs[1]->cols() != 1) {
      return InvalidArgument("packUpdate: the residual has " + std::to_string(inputs[1]->rows()) +
                             " values, the update " + std::to_string(n));
    }
    values += inputs[1]->col(0).cast<float>();
  }
  // Clipped here, before the residual is taken, so that what the bound cuts off is dropped
  // rather than sent later.
  ClipNorm(&values, spec.clip);
  PackedUpdate packed = PackUpdate(values, tail, spec);
  FunctionOutput out;
  // The residual: what the receiver will not see (nothing, when nothing is lost).
  if (spec.lossy()) out.value = (values - packed.decoded).cast<double>();
  out.packed = std::move(packed.bytes);
  return out;
}

Result<FunctionOutput> WeighUpdateFunction(std::span<const Matrix* const> inputs, const WeighUpdateParams& params,
                                           const FunctionContext&) {
  const Matrix& u = *inputs[0];
  if (u.cols() != 1 || params.stats != kTrainingStats || u.rows() < params.stats) {
    return InvalidArgument("weighUpdate: the update must be one column followed by its training statistics");
  }
  const auto n = static_cast<size_t>(u.rows() - params.stats);
  FunctionOutput out;
  out.value =
      Weighed(std::span<const double>(u.data(), n), std::span<const double>(u.data() + n, kTrainingStats), params);
  return out;
}

// The loss of parameters P on this site's rows: inputs X, y, P; params.model. Output, one
// column: the summed loss, the correct predictions and the row count.
Result<FunctionOutput> EvaluateModelFunction(std::span<const Matrix* const> inputs, const EvalModelParams& params,
                                             const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const ModelSpec& spec = params.model;
  Eigen::VectorXf narrowed;
  Result<Eigen::Map<const Eigen::VectorXf>> p = ParametersInput(inputs, context, 2, &narrowed);
  if (!p.ok()) return p.status().WithContext("evalModel");
  if (x.cols() != spec.inputs || inputs[1]->rows() != x.rows() || p->size() != spec.parameter_count()) {
    return InvalidArgument("evalModel: the data or parameters do not fit the model");
  }
  if (spec.output == OutputKind::kSoftmax) FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "evalModel"));
  FEDRA_ASSIGN_OR_RETURN(Targets targets, MakeTargets(spec, *inputs[1]));
  // The rows as floats, kept by the site across a job's rounds as its training rows are.
  const std::shared_ptr<const RowMajorF> rows =
      context.float_rows ? context.float_rows() : std::make_shared<const RowMajorF>(RowMajorFloat(x));
  if (!rows || rows->rows() != x.rows() || rows->cols() != x.cols())
    return Internal("evalModel: the float copy of the rows is not of their shape");
  const BatchStats s = Mlp(spec).Score(*p, *rows, targets);
  FunctionOutput out;
  const double correct =
      context.withhold_decision_counts() ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(s.correct);
  out.value = Matrix{{s.loss_sum}, {correct}, {static_cast<double>(s.rows)}};
  return out;
}

// A saved model's outputs for each row: inputs X, P (ModelRunSpec's layout).
Result<FunctionOutput> PredictModelFunction(std::span<const Matrix* const> inputs, const PredictModelParams& params,
                                            const FunctionContext&) {
  FunctionOutput out;
  FEDRA_ASSIGN_OR_RETURN(out.value, PredictRows(params.model, *inputs[0], *inputs[1]));
  return out;
}

// The sums of a saved model's metrics on these rows: inputs X, y, P.
Result<FunctionOutput> ScoreModelFunction(std::span<const Matrix* const> inputs, const ScoreModelParams& params,
                                          const FunctionContext& context) {
  if (params.model.Classifies()) FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "scoreModel"));
  FunctionOutput out;
  FEDRA_ASSIGN_OR_RETURN(out.value,
                         ScoreSums(params, *inputs[0], *inputs[1], *inputs[2], context.withhold_decision_counts()));
  return out;
}

using Body = Result<FunctionOutput> (*)(std::span<const Matrix* const> inputs, const nlohmann::json& params,
                                        const FunctionContext& context);

// A function's body behind the parsing of its parameters.
template <SiteFunctionParams P,
          Result<FunctionOutput> (*kRun)(std::span<const Matrix* const>, const P&, const FunctionContext&)>
Result<FunctionOutput> Parsed(std::span<const Matrix* const> inputs, const nlohmann::json& params,
                              const FunctionContext& context) {
  FEDRA_ASSIGN_OR_RETURN(P parsed, P::Parse(params));
  return kRun(inputs, parsed, context);
}

struct BodyEntry {
  SiteFunction code;
  Body run;
  uint32_t float_inputs = 0;  // FloatInputs
};

constexpr std::array kBodies = {
    BodyEntry{SiteFunction::kMoments, &Parsed<MomentsParams, &Moments>},
    BodyEntry{SiteFunction::kClassCounts, &Parsed<ClassCountsParams, &ClassCounts>},
    BodyEntry{SiteFunction::kLogisticStats, &Parsed<LogisticStatsParams, &LogisticStats>},
    BodyEntry{SiteFunction::kLogisticHessian, &Parsed<LogisticHessianParams, &LogisticHessian>},
    BodyEntry{SiteFunction::kKMeansSeeds, &Parsed<KMeansSeedsParams, &KMeansSeeds>},
    BodyEntry{SiteFunction::kKMeansStep, &Parsed<KMeansStepParams, &KMeansStep>},
    BodyEntry{SiteFunction::kTrainLocal, &Parsed<TrainLocalParams, &TrainLocalFunction>, 0b100},
    BodyEntry{SiteFunction::kPackUpdate, &Parsed<PackUpdateParams, &PackUpdateFunction>},
    BodyEntry{SiteFunction::kEvalModel, &Parsed<EvalModelParams, &EvaluateModelFunction>, 0b100},
    BodyEntry{SiteFunction::kPredictModel, &Parsed<PredictModelParams, &PredictModelFunction>},
    BodyEntry{SiteFunction::kScoreModel, &Parsed<ScoreModelParams, &ScoreModelFunction>},
    BodyEntry{SiteFunction::kWeighUpdate, &Parsed<WeighUpdateParams, &WeighUpdateFunction>},
};
static_assert(kBodies.size() == kSiteFunctionCount, "every site function needs a body");

static_assert(ListedInCodeOrder(kBodies), "kBodies must list each function at its code's index");
static_assert(std::all_of(kBodies.begin(), kBodies.end(),
                          [](const BodyEntry& b) { return (b.float_inputs & 0b11) == 0; }),
              "the executor reads inputs 0 and 1 (rows and labels) as doubles");

}  // namespace

uint32_t FloatInputs(SiteFunction function) { return kBodies[static_cast<size_t>(function)].float_inputs; }

Result<FunctionOutput> RunFunction(SiteFunction function, std::span<const Matrix* const> inputs,
                                   const nlohmann::json& params, const FunctionContext& context) {
  return kBodies[static_cast<size_t>(function)].run(inputs, params, context);
}

}  // namespace fedra

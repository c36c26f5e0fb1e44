#include "site-agent/functions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "common/code_table.h"
#include "federated/update_codec.h"
#include "site-agent/kmeans_stats.h"
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

// Logistic-regression statistics for weights W at this site's rows, summed over them:
// inputs X (n x d), y (n x 1, class labels 0..K-1 as numbers) and W ((d + intercept) x K; K = 1
// is the binomial model with a sigmoid, K >= 2 multinomial with a softmax). params.intercept
// says W's first row is the intercept. Output ((d + intercept) + 3) x K: the gradient of the
// summed log-loss, then, in the first column, the summed loss, the correct predictions and the
// row count.
Result<FunctionOutput> LogisticStats(std::span<const Matrix* const> inputs, const LogisticStatsParams& params,
                                     const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& y = *inputs[1];
  const Matrix& w = *inputs[2];
  const bool intercept = params.intercept;
  const Eigen::Index o = intercept ? 1 : 0;
  const Eigen::Index k = w.cols();
  const Eigen::Index classes = k == 1 ? 2 : k;
  if (y.rows() != x.rows() || y.cols() != 1) return InvalidArgument("logistic: y must be nrow(X) x 1");
  if (w.rows() != x.cols() + o) {
    return InvalidArgument("logistic: W has " + std::to_string(w.rows()) + " rows, expected " +
                           std::to_string(x.cols() + o));
  }
  if (k < 1 || k + o < 1 || x.rows() == 0) return InvalidArgument("logistic: empty input");
  FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "logisticStats"));
  if (!AreClassCodes(y, static_cast<double>(classes))) {
    return InvalidArgument("logistic: the label column has values that are not class codes 0.." +
                           std::to_string(classes - 1) + " (input 1)");
  }
  Matrix scores = x * w.bottomRows(x.cols());
  if (intercept) scores.rowwise() += w.row(0);
  Matrix residual(x.rows(), k);  // d loss / d score
  double correct = 0;
  Eigen::VectorXd row_loss(x.rows());
  uint64_t undecided = 0;  // rows whose most likely class has probability at most kDecided
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const auto c = static_cast<Eigen::Index>(y(i, 0));
    if (k == 1) {
      const double s = scores(i, 0);
      // log(1 + exp(-s)) for c = 1, log(1 + exp(s)) for c = 0, computed stably.
      const double m = c == 1 ? -s : s;
      row_loss(i) = std::max(m, 0.0) + std::log1p(std::exp(-std::abs(m)));
      const double p = 1 / (1 + std::exp(-s));
      residual(i, 0) = p - static_cast<double>(c);
      correct += (p >= 0.5) == (c == 1);
      undecided += std::max(p, 1 - p) <= kDecided;
    } else {
      const double top = scores.row(i).maxCoeff();
      const Eigen::RowVectorXd e = (scores.row(i).array() - top).exp();
      const double z = e.sum();
      row_loss(i) = std::log(z) + top - scores(i, c);
      residual.row(i) = e / z;
      residual(i, c) -= 1;
      Eigen::Index best;
      scores.row(i).maxCoeff(&best);
      correct += best == c;
      undecided += e(best) / z <= kDecided;
    }
  }
  // Coefficients scaled up until every row is decided turn the gradient into a sum over a
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
  FunctionOutput out;
  out.value = Matrix::Zero(w.rows() + 3, k);
  if (intercept) out.value.row(0) = residual.colwise().sum();
  out.value.middleRows(o, x.cols()) = x.transpose() * residual;
  out.value(w.rows(), 0) = row_loss.sum();
  out.value(w.rows() + 1, 0) = context.withhold_decision_counts() ? std::numeric_limits<double>::quiet_NaN() : correct;
  out.value(w.rows() + 2, 0) = static_cast<double>(x.rows());
  if (context.min_group_rows > 1) {
    // The features' gradient rows pair each column with the residuals; the intercept's row and
    // the loss sum the residuals and the losses themselves, which a shift can make rare.
    const std::vector<ColumnSpread> residual_spread = SpreadPerColumn(residual);
    out.support = CoSupport(x, residual, context.min_group_rows, context.spread, &residual_spread);
    if (intercept) out.support = std::min(out.support, FewestDiffering(residual_spread, out.support));
    out.support = std::min(out.support, FewestDiffering(SpreadPerColumn(Matrix(row_loss)), out.support));
  }
  return out;
}

// Local training from the broadcast parameters P (a column): inputs X (n x inputs), y (n x 1
// labels or n x outputs targets), P; params as TrainLocalParams says: local steps, then new - P,
// or the batches' mean gradient at P and no steps. Output, one column:
// the update, then kTrainingStats statistics: the summed training loss, the correct predictions
// and the rows trained on, measured on each batch before its step, and the last batch's epoch.
Result<FunctionOutput> TrainLocalFunction(std::span<const Matrix* const> inputs, const TrainLocalParams& params,
                                          const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& y = *inputs[1];
  const Matrix& p = *inputs[2];
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
  if (p.cols() != 1) return InvalidArgument("trainLocal: the parameters must be one column");
  const Eigen::VectorXf start = p.col(0).cast<float>();
  FEDRA_ASSIGN_OR_RETURN(LocalTrainingResult r, TrainLocal(Mlp(params.model), params.optimizer, options, x, y, start));
  FunctionOutput out;
  out.value.resize(p.rows() + kTrainingStats, 1);
  out.value.col(0).head(p.rows()) =
      (options.accrue_gradients ? r.accrued : Eigen::VectorXf(r.params - start)).cast<double>();
  const double correct = context.withhold_decision_counts() ? std::numeric_limits<double>::quiet_NaN()
                                                            : static_cast<double>(r.stats.correct);
  out.value.col(0).tail(kTrainingStats) << r.stats.loss_sum, correct, static_cast<double>(r.stats.rows),
      static_cast<double>(r.last_epoch);
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
  Eigen::VectorXf values = u.col(0).head(n).cast<float>();
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
  const std::vector<double> tail(u.data() + n, u.data() + u.rows());
  PackedUpdate packed = PackUpdate(values, tail, spec);
  FunctionOutput out;
  // The residual: what the receiver will not see (nothing, when nothing is lost).
  if (spec.lossy()) out.value = (values - packed.decoded).cast<double>();
  out.packed = std::move(packed.bytes);
  return out;
}

// The loss of parameters P on this site's rows: inputs X, y, P; params.model. Output, one
// column: the summed loss, the correct predictions and the row count.
Result<FunctionOutput> EvaluateModelFunction(std::span<const Matrix* const> inputs, const EvalModelParams& params,
                                             const FunctionContext& context) {
  const Matrix& x = *inputs[0];
  const Matrix& p = *inputs[2];
  const ModelSpec& spec = params.model;
  if (x.cols() != spec.inputs || inputs[1]->rows() != x.rows() || p.cols() != 1 || p.rows() != spec.parameter_count()) {
    return InvalidArgument("evalModel: the data or parameters do not fit the model");
  }
  if (spec.output == OutputKind::kSoftmax) FEDRA_RETURN_IF_ERROR(context.CheckLabelsAsRead(1, "evalModel"));
  FEDRA_ASSIGN_OR_RETURN(Targets targets, MakeTargets(spec, *inputs[1]));
  const BatchStats s = Mlp(spec).Run(p.col(0).cast<float>(), x.cast<float>(), targets, nullptr);
  FunctionOutput out;
  const double correct =
      context.withhold_decision_counts() ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(s.correct);
  out.value = Matrix{{s.loss_sum}, {correct}, {static_cast<double>(s.rows)}};
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
};

constexpr std::array kBodies = {
    BodyEntry{SiteFunction::kMoments, &Parsed<MomentsParams, &Moments>},
    BodyEntry{SiteFunction::kClassCounts, &Parsed<ClassCountsParams, &ClassCounts>},
    BodyEntry{SiteFunction::kLogisticStats, &Parsed<LogisticStatsParams, &LogisticStats>},
    BodyEntry{SiteFunction::kKMeansSeeds, &Parsed<KMeansSeedsParams, &KMeansSeeds>},
    BodyEntry{SiteFunction::kKMeansStep, &Parsed<KMeansStepParams, &KMeansStep>},
    BodyEntry{SiteFunction::kTrainLocal, &Parsed<TrainLocalParams, &TrainLocalFunction>},
    BodyEntry{SiteFunction::kPackUpdate, &Parsed<PackUpdateParams, &PackUpdateFunction>},
    BodyEntry{SiteFunction::kEvalModel, &Parsed<EvalModelParams, &EvaluateModelFunction>},
};
static_assert(kBodies.size() == kSiteFunctionCount, "every site function needs a body");

static_assert(ListedInCodeOrder(kBodies), "kBodies must list each function at its code's index");

}  // namespace

Result<FunctionOutput> RunFunction(SiteFunction function, std::span<const Matrix* const> inputs,
                                   const nlohmann::json& params, const FunctionContext& context) {
  return kBodies[static_cast<size_t>(function)].run(inputs, params, context);
}

}  // namespace fedra

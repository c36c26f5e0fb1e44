#include "master/algorithms/model_use.h"

#include <cmath>
#include <limits>

#include "master/algorithms/kmeans.h"

namespace fedra {
namespace {

// NaN (a withheld or undefined metric) as null.
nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json Numbers(const Eigen::VectorXd& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(Number(x));
  return out;
}

double Ratio(double a, double b) { return b > 0 ? a / b : std::numeric_limits<double>::quiet_NaN(); }

double MeanOf(const Eigen::VectorXd& v) {
  double sum = 0;
  int n = 0;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    sum += x;
    ++n;
  }
  return n ? sum / n : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json ClassifierMetricsJson(const Eigen::VectorXd& sums, const UsableModel& model, int64_t bins) {
  const auto classes = static_cast<int64_t>(model.classes.size());
  const ScoreLayout layout{classes, bins};
  const double rows = sums(0);
  nlohmann::json m = {{"rows", rows}, {"log_loss", sums(1) / rows}, {"classes", model.classes}};
  if (!sums.segment(layout.confusion(), layout.size() - layout.confusion()).allFinite()) {
    m["withheld"] =
        "accuracy, the confusion matrix, precision, recall, F1 and ROC AUC: private-aggregate sites withhold counts "
        "of decisions (docs/privacy.md, rule 4)";
    return m;
  }
  // The sites count true-class major; reshaped() reads column-major, so the transpose makes
  // rows the true classes.
  const Matrix confusion = sums.segment(layout.confusion(), classes * classes).reshaped(classes, classes).transpose();
  nlohmann::json table = nlohmann::json::array();
  for (Eigen::Index t = 0; t < classes; ++t) {
    const Eigen::RowVectorXd row = confusion.row(t);
    table.push_back(std::vector<double>(row.data(), row.data() + classes));
  }
  Eigen::VectorXd precision(classes), recall(classes), f1(classes), auc(classes);
  for (Eigen::Index k = 0; k < classes; ++k) {
    precision(k) = Ratio(confusion(k, k), confusion.col(k).sum());
    recall(k) = Ratio(confusion(k, k), confusion.row(k).sum());
    f1(k) = Ratio(2 * precision(k) * recall(k), precision(k) + recall(k));
    auc(k) =
        HistogramAuc(sums.segment(layout.histogram(k, false), bins), sums.segment(layout.histogram(k, true), bins));
  }
  m["accuracy"] = confusion.trace() / rows;
  m["confusion"] = table;
  m["per_class"] = {
      {"precision", Numbers(precision)}, {"recall", Numbers(recall)}, {"f1", Numbers(f1)}, {"roc_auc", Numbers(auc)}};
  m["macro"] = {{"precision", Number(MeanOf(precision))},
                {"recall", Number(MeanOf(recall))},
                {"f1", Number(MeanOf(f1))},
                {"roc_auc", Number(MeanOf(auc))}};
  if (classes == 2) {
    // The second class is the positive one, as in R's glm; the curve runs from the highest threshold.
    m["roc_auc"] = Number(auc(1));
    const Eigen::VectorXd negatives = sums.segment(layout.histogram(1, false), bins);
    const Eigen::VectorXd positives = sums.segment(layout.histogram(1, true), bins);
    nlohmann::json fpr = {0.0}, tpr = {0.0};
    double fp = 0, tp = 0;
    for (int64_t b = bins; b-- > 0;) {
      fp += negatives(b);
      tp += positives(b);
      fpr.push_back(Ratio(fp, negatives.sum()));
      tpr.push_back(Ratio(tp, positives.sum()));
    }
    m["roc"] = {{"fpr", fpr}, {"tpr", tpr}};
  }
  return m;
}

nlohmann::json RegressionMetricsJson(const Eigen::VectorXd& s) {
  const double rows = s(0), sse = s(1), sae = s(2), sum_y = s(3), sum_y2 = s(4);
  const double total = sum_y2 - sum_y * sum_y / rows;  // about the mean, as R's summary.lm with an intercept
  return {{"rows", rows}, {"rmse", std::sqrt(sse / rows)}, {"mae", sae / rows}, {"r2", Number(1 - sse / total)}};
}

// The variance of the new rows along each component, in the space the model was fitted in.
Result<nlohmann::json> PcaMetrics(Federation& fed, const FederatedMatrix& x, const UsableModel& model) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> agg, x.SumOverParts(fed, {{Op::kTsmm}, {Op::kColSums}}));
  const double n = static_cast<double>(x.rows());
  if (n < 2) return FailedPrecondition("pca: the variance needs at least two rows");
  const Matrix& p = model.parameters;
  const Eigen::RowVectorXd centre = p.row(0), scale = p.row(1);
  const Eigen::RowVectorXd sums = agg[1].row(0);
  // z = (x - centre) / scale: sum z z' from t(X) %*% X and the column sums.
  const Matrix shifted =
      agg[0] - centre.transpose() * sums - sums.transpose() * centre + n * centre.transpose() * centre;
  const Eigen::RowVectorXd z_sums = (sums - n * centre).array() / scale.array();
  const Matrix zz = shifted.array() / (scale.transpose() * scale).array();
  const Matrix covariance = (zz - z_sums.transpose() * z_sums / n) / (n - 1);
  const Matrix components = p.bottomRows(p.rows() - 2).transpose();  // d x k
  const Eigen::VectorXd variances = (components.transpose() * covariance * components).diagonal();
  const double total = covariance.trace();
  return nlohmann::json{{"rows", x.rows()},
                        {"variances", Numbers(variances)},
                        {"explained_variance_ratio", Numbers(variances / total)},
                        {"total_variance", total}};
}

}  // namespace

std::vector<std::string> UsableModel::OutputNames() const {
  switch (run.kind) {
    case ModelKind::kKMeans: return {"cluster", "distance2"};
    case ModelKind::kPca: {
      std::vector<std::string> names;
      for (Eigen::Index k = 1; k + 2 <= parameters.rows(); ++k) names.push_back("PC" + std::to_string(k));
      return names;
    }
    default: break;
  }
  if (!Classifies()) {
    if (run.kind == ModelKind::kMlp && run.mlp.outputs > 1) {
      std::vector<std::string> names;
      for (int k = 1; k <= run.mlp.outputs; ++k) names.push_back("predicted" + std::to_string(k));
      return names;
    }
    return {"predicted"};
  }
  std::vector<std::string> names = {"predicted"};
  for (const std::string& c : classes) names.push_back("p_" + c);
  return names;
}

double HistogramAuc(const Eigen::VectorXd& negatives, const Eigen::VectorXd& positives) {
  const double n = negatives.sum(), p = positives.sum();
  if (n <= 0 || p <= 0) return std::numeric_limits<double>::quiet_NaN();
  double below = 0, pairs = 0;  // negatives in lower bins; positive-negative pairs ranked right
  for (Eigen::Index b = 0; b < negatives.size(); ++b) {
    pairs += positives(b) * (below + 0.5 * negatives(b));
    below += negatives(b);
  }
  return pairs / (n * p);
}

Result<nlohmann::json> EvaluateModel(Federation& fed, const FederatedMatrix& x, const FederatedMatrix* y,
                                     const UsableModel& model, int64_t bins) {
  if (model.run.kind == ModelKind::kKMeans) {
    FEDRA_ASSIGN_OR_RETURN(KMeansScore s, ScoreKMeans(fed, x, model.parameters));
    return nlohmann::json{{"rows", x.rows()},
                          {"inertia", s.inertia},
                          {"mean_squared_distance", s.inertia / static_cast<double>(x.rows())},
                          {"sizes", Numbers(s.sizes)}};
  }
  if (model.run.kind == ModelKind::kPca) return PcaMetrics(fed, x, model);
  if (!y) return InvalidArgument(model.algorithm + ": evaluating needs the label column");
  ScoreModelParams params{model.run, bins};
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums,
                         x.SumOverParts(fed, {{Instruction(params), y, true}}, &model.parameters));
  const Eigen::VectorXd s = sums[0].col(0);
  if (s(0) <= 0) return FailedPrecondition(model.algorithm + ": no rows to evaluate on");
  if (model.Classifies()) {
    if (s.size() != ScoreLayout{static_cast<int64_t>(model.classes.size()), bins}.size()) {
      return Internal("scoreModel: the sites' sums do not match the model's " + std::to_string(model.classes.size()) +
                      " classes");
    }
    return ClassifierMetricsJson(s, model, bins);
  }
  return RegressionMetricsJson(s);
}

Result<FederatedMatrix> PredictModel(Federation& fed, const FederatedMatrix& x, const UsableModel& model) {
  const std::vector<std::string> names = model.OutputNames();
  return x.MapParts(fed, {Instruction(PredictModelParams{model.run}), nullptr, true}, {model.parameters},
                    static_cast<int64_t>(names.size()), names);
}

}  // namespace fedra

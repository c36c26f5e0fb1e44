#include "site-agent/model_outputs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "site-agent/trainer.h"

namespace fedra {
namespace {

// X %*% B + intercept, for P = [intercept; B] (or B alone).
Result<Matrix> LinearScores(const Matrix& x, const Matrix& p, bool intercept, const char* what) {
  const Eigen::Index o = intercept ? 1 : 0;
  if (p.rows() != x.cols() + o || p.cols() < 1) {
    return InvalidArgument(std::string(what) + ": the model has " + std::to_string(p.rows()) +
                           " coefficient rows for data of " + std::to_string(x.cols()) + " columns" +
                           (intercept ? " and an intercept" : ""));
  }
  Matrix scores = x * p.bottomRows(x.cols());
  if (intercept) scores.rowwise() += p.row(0);
  return scores;
}

Result<Eigen::VectorXf> MlpParameters(const ModelSpec& spec, const Matrix& x, const Matrix& p) {
  if (x.cols() != spec.inputs) {
    return InvalidArgument("mlp: the model takes " + std::to_string(spec.inputs) + " inputs, the data has " +
                           std::to_string(x.cols()) + " columns");
  }
  if (p.cols() != 1 || p.rows() != spec.parameter_count()) {
    return InvalidArgument("mlp: the model has " + std::to_string(spec.parameter_count()) + " parameters, P holds " +
                           std::to_string(p.size()));
  }
  return Eigen::VectorXf(p.col(0).cast<float>());
}

// A classifier's logits, one column per class (a logistic model's reference class scores 0), or
// a regression's predictions.
Result<Matrix> Outputs(const ModelRunSpec& model, const Matrix& x, const Matrix& p) {
  switch (model.kind) {
    case ModelKind::kLinear: {
      if (p.cols() != 1) return InvalidArgument("linear: the coefficients must be one column");
      return LinearScores(x, p, model.intercept, "linear");
    }
    case ModelKind::kLogistic: {
      FEDRA_ASSIGN_OR_RETURN(Matrix scores, LinearScores(x, p, model.intercept, "logistic"));
      Matrix logits(x.rows(), scores.cols() + 1);
      logits.col(0).setZero();
      logits.rightCols(scores.cols()) = scores;
      return logits;
    }
    case ModelKind::kMlp: {
      FEDRA_ASSIGN_OR_RETURN(Eigen::VectorXf params, MlpParameters(model.mlp, x, p));
      return Matrix(Mlp(model.mlp).Outputs(params, x.cast<float>()).cast<double>());
    }
    case ModelKind::kKMeans:
    case ModelKind::kPca: break;
  }
  return InvalidArgument("not a regression or classification model");
}

// Log-softmax of each row.
Matrix LogSoftmax(const Matrix& logits) {
  Matrix out = logits;
  for (Eigen::Index i = 0; i < out.rows(); ++i) {
    const double top = out.row(i).maxCoeff();
    const double log_sum = top + std::log((out.row(i).array() - top).exp().sum());
    out.row(i).array() -= log_sum;
  }
  return out;
}

// The nearest centre of each row and its squared distance.
Result<Matrix> NearestCentres(const Matrix& x, const Matrix& centres) {
  if (centres.cols() != x.cols() || centres.rows() < 1) {
    return InvalidArgument("kmeans: the centres have " + std::to_string(centres.cols()) + " columns, the data " +
                           std::to_string(x.cols()));
  }
  Matrix out(x.rows(), 2);
  const Eigen::VectorXd centre_norms = centres.rowwise().squaredNorm();
  const Matrix cross = x * centres.transpose();
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    Eigen::Index best = 0;
    const double row_norm = x.row(i).squaredNorm();
    (centre_norms.transpose() - 2 * cross.row(i)).minCoeff(&best);
    out(i, 0) = static_cast<double>(best);
    out(i, 1) = std::max(0.0, row_norm - 2 * cross(i, best) + centre_norms(best));
  }
  return out;
}

Result<Matrix> PcaScores(const Matrix& x, const Matrix& p) {
  if (p.cols() != x.cols() || p.rows() < 3) {
    return InvalidArgument("pca: the model has " + std::to_string(p.cols()) + " columns, the data " +
                           std::to_string(x.cols()) + " (P: the centre, the scale, then the components)");
  }
  const Eigen::RowVectorXd centre = p.row(0), scale = p.row(1);
  if ((scale.array() == 0).any()) return InvalidArgument("pca: a column's scale is 0");
  const Matrix z = ((x.rowwise() - centre).array().rowwise() / scale.array()).matrix();
  return Matrix(z * p.bottomRows(p.rows() - 2).transpose());
}

}  // namespace

// Outputs per row at most (classes, clusters, components): the model's size is the master's choice.
constexpr Eigen::Index kMaxOutputs = 4096;
// Statistics scoreModel returns at most (K^2 confusion counts and 2 K bins histogram bins).
constexpr int64_t kMaxScoreStats = int64_t{1} << 22;

Result<Matrix> PredictRows(const ModelRunSpec& model, const Matrix& x, const Matrix& p) {
  const Eigen::Index width = model.kind == ModelKind::kMlp      ? model.mlp.outputs
                             : model.kind == ModelKind::kPca    ? p.rows() - 2
                             : model.kind == ModelKind::kKMeans ? p.rows()
                                                                : p.cols() + 1;
  if (width > kMaxOutputs) {
    return InvalidArgument("the model has " + std::to_string(width) + " outputs per row, at most " +
                           std::to_string(kMaxOutputs));
  }
  if (model.kind == ModelKind::kKMeans) return NearestCentres(x, p);
  if (model.kind == ModelKind::kPca) return PcaScores(x, p);
  FEDRA_ASSIGN_OR_RETURN(Matrix outputs, Outputs(model, x, p));
  if (!model.Classifies()) return outputs;
  Matrix out(x.rows(), outputs.cols() + 1);
  const Matrix log_p = LogSoftmax(outputs);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    Eigen::Index best = 0;
    outputs.row(i).maxCoeff(&best);
    out(i, 0) = static_cast<double>(best);
  }
  out.rightCols(outputs.cols()) = log_p.array().exp().matrix();
  return out;
}

Result<Matrix> ScoreSums(const ScoreModelParams& params, const Matrix& x, const Matrix& y, const Matrix& p,
                         bool withhold_decisions) {
  const ModelRunSpec& model = params.model;
  if (y.rows() != x.rows()) return InvalidArgument("scoreModel: y must have a row per row of X");
  FEDRA_ASSIGN_OR_RETURN(Matrix outputs, Outputs(model, x, p));
  if (!model.Classifies()) {
    if (y.cols() != outputs.cols()) {
      return InvalidArgument("scoreModel: the model predicts " + std::to_string(outputs.cols()) +
                             " columns, the label has " + std::to_string(y.cols()));
    }
    const Matrix e = y - outputs;
    Matrix out(ScoreLayout::kRegressionStats, 1);
    out << static_cast<double>(x.rows()), e.squaredNorm(), e.cwiseAbs().sum(), y.sum(), y.squaredNorm();
    if (!out.allFinite()) return InvalidArgument("scoreModel: the model's outputs are not finite on these rows");
    return out;
  }
  const Eigen::Index classes = outputs.cols();
  const ScoreLayout layout{classes, params.bins};
  if (layout.size() > kMaxScoreStats) {
    return InvalidArgument("scoreModel: " + std::to_string(classes) + " classes with " + std::to_string(params.bins) +
                           " bins make more than " + std::to_string(kMaxScoreStats) + " statistics; use fewer bins");
  }
  if (!outputs.allFinite()) return InvalidArgument("scoreModel: the model's outputs are not finite on these rows");
  if (y.cols() != 1 || !AreClassCodes(y, static_cast<double>(classes))) {
    return InvalidArgument("scoreModel: the label column has values that are not the model's class codes 0.." +
                           std::to_string(classes - 1));
  }
  const Matrix log_p = LogSoftmax(outputs);
  Matrix out = Matrix::Zero(layout.size(), 1);
  out(0, 0) = static_cast<double>(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const auto truth = static_cast<Eigen::Index>(y(i, 0));
    out(1, 0) -= log_p(i, truth);
    Eigen::Index predicted = 0;
    outputs.row(i).maxCoeff(&predicted);
    out(layout.confusion() + truth * classes + predicted, 0) += 1;
    for (Eigen::Index k = 0; k < classes; ++k) {
      const double probability = std::exp(log_p(i, k));
      const auto bin = std::clamp<int64_t>(static_cast<int64_t>(probability * params.bins), 0, params.bins - 1);
      out(layout.histogram(k, k == truth) + bin, 0) += 1;
    }
  }
  if (withhold_decisions) {
    out.bottomRows(out.rows() - layout.confusion()).setConstant(std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

}  // namespace fedra

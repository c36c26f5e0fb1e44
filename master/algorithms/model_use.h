// Using a saved model on rows at the sites (master/jobs/saved_model.h reads the document into a
// UsableModel): evaluating it against their labels, of which only aggregates come back, and
// predicting, whose outputs stay at the sites as a federated matrix.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/matrix.h"
#include "common/status.h"
#include "federated/site_functions.h"
#include "master/federation/federation.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct UsableModel {
  std::string algorithm;              // lm, lmCG, logreg, kmeans, pca, nn
  std::vector<std::string> features;  // the raw columns it reads, in order
  std::string label;                  // the raw label column; empty for k-means and PCA
  ModelRunSpec run;
  Matrix parameters;                 // P, as ModelRunSpec lays it out
  std::vector<std::string> inputs;   // the columns the model reads, after the transform, in order
  std::vector<std::string> classes;  // a classifier's classes, by code

  bool Classifies() const { return run.Classifies(); }
  bool Regresses() const { return run.Regresses(); }
  // Names of the columns predictModel makes: "predicted"; "predicted" and "p_<class>" for each
  // class; "cluster" and "distance2"; "PC1", "PC2", ...
  std::vector<std::string> OutputNames() const;
};

// Score histograms have this many bins by default: ROC AUC is then exact up to ties within a
// bin of width 1/200.
inline constexpr int64_t kDefaultScoreBins = 200;

// Metrics of `model` on rows `x` (its inputs) with labels `y` (one column; ignored by k-means and
// PCA, which need none). One batch per site:
//   classification: rows, log_loss, accuracy, confusion (true class by row), per class precision,
//     recall, f1 and roc_auc, macro averages, and for two classes roc_auc of the second class
//     with its curve; counts withheld by private-aggregate sites leave those metrics out and
//     say so under "withheld"
//   regression: rows, rmse, mae, r2
//   kmeans: rows, inertia, mean_squared_distance, sizes
//   pca: rows, variances along the components, explained_variance_ratio of the new data's
//     total variance (after the saved centre and scale), total_variance
Result<nlohmann::json> EvaluateModel(Federation& fed, const FederatedMatrix& x, const FederatedMatrix* y,
                                     const UsableModel& model, int64_t bins = kDefaultScoreBins);

// The model's outputs for each row of `x`, made and kept at the sites (OutputNames() columns).
Result<FederatedMatrix> PredictModel(Federation& fed, const FederatedMatrix& x, const UsableModel& model);

// The area under the ROC curve from score histograms of the negative and positive rows (bin b
// holds scores in [b, b + 1) / bins): pairs in the same bin count one half, as tied scores do.
double HistogramAuc(const Eigen::VectorXd& negatives, const Eigen::VectorXd& positives);

}  // namespace fedra

// Federated k-means (Lloyd's algorithm) over a row-partitioned federated matrix. Rows never
// leave the sites: each iteration is one batch per site returning per-cluster sums, counts and
// squared distances, for every restart at once.
//
// Initialisation is k-means++ without raw rows: each site summarises its rows as micro-clusters
// (each at least as large as its privacy policy asks of an aggregate), and the master runs
// weighted k-means++ and a few weighted Lloyd steps on those means, once per restart. On
// secure-aggregate data, where every aggregate is a secure sum over the sites, each restart
// starts instead from random draws around the pooled column means.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/matrix.h"
#include "master/ps/iteration_hook.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

struct KMeansOptions {
  int k = 2;
  int restarts = 3;  // independent initialisations; the lowest inertia wins
  uint64_t seed = 1;
  int max_iterations = 100;
  // Converged when the centres' total squared movement is at most tolerance x inertia / nrow.
  double tolerance = 1e-4;
  // Starting centres (k x ncol) instead of k-means++: one restart from exactly these.
  std::optional<Matrix> initial_centers;
  IterationHook on_iteration = nullptr;  // "inertia" (the lowest over the restarts) after each iteration
};

struct KMeansModel {
  Matrix centers;         // k x ncol
  Eigen::VectorXd sizes;  // rows per cluster
  double inertia = 0;     // summed squared distance of each row to its centre
  int iterations = 0;     // Lloyd iterations of the winning restart
  bool converged = false;
  std::vector<double> restart_inertias;
};

Result<KMeansModel> FitKMeans(Federation& fed, const FederatedMatrix& x, const KMeansOptions& options);

struct KMeansScore {
  double inertia = 0;     // summed squared distance of each row to its nearest centre
  Eigen::VectorXd sizes;  // rows nearest each centre
};

// Fixed centres over x (a held-out split, new data): one batch per site.
Result<KMeansScore> ScoreKMeans(Federation& fed, const FederatedMatrix& x, const Matrix& centers);

}  // namespace fedra

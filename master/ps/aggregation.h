// How the parameter server combines the updates of one round into one:
//
//   mean          the sample-weighted mean (FedAvg): each update weighs its rows trained;
//   median        the coordinate-wise median, robust to a minority of wild updates;
//   trimmed_mean  per coordinate, the mean after dropping the `trim` fraction of largest and
//                 of smallest values.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "common/status.h"
#include "master/ps/site_runner.h"

namespace fedra {

struct AggregationSpec {
  std::string name = "mean";  // mean, median, trimmed_mean
  double trim = 0.1;          // trimmed_mean: the fraction cut from each end
  bool robust() const { return name != "mean"; }
};

Status CheckAggregation(const AggregationSpec& spec);

// `updates` is not empty and all have the same length. Long updates are combined on up to
// `cores` cores (0: the machine's), each coordinate as on one.
Eigen::VectorXf Aggregate(const AggregationSpec& spec, const std::vector<const SiteUpdate*>& updates, size_t cores = 0);

}  // namespace fedra

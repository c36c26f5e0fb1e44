// What iterative algorithms report after each iteration: its number (from 1) and named metrics.
// A hook that returns an error stops the algorithm at that iteration boundary with that error,
// which is how a job is cancelled.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace fedra {

using IterationMetrics = std::vector<std::pair<std::string, double>>;
using IterationHook = std::function<Status(int iteration, const IterationMetrics& metrics)>;

// Calls `hook` when set, with the metrics that have a value (sites withhold some from
// private-aggregate data, as NaN); Ok otherwise.
inline Status ReportIteration(const IterationHook& hook, int iteration, const IterationMetrics& metrics) {
  if (!hook) return Status::Ok();
  IterationMetrics known;
  for (const auto& metric : metrics) {
    if (std::isfinite(metric.second)) known.push_back(metric);
  }
  return hook(iteration, known);
}

}  // namespace fedra

#include "master/fedavg.h"

#include <chrono>

#include "common/logging.h"

namespace fedra {

Result<FedAvgResult> TrainFedAvg(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                 const FedAvgOptions& options) {
  if (options.rounds < 1) return InvalidArgument("rounds must be at least 1");
  if (options.model.inputs != x.cols()) {
    return InvalidArgument("the model takes " + std::to_string(options.model.inputs) + " inputs, the data has " +
                           std::to_string(x.cols()) + " features");
  }
  FedAvgResult result;
  result.parameters = InitialParameters(options.model, options.seed);
  const Eigen::Index n = result.parameters.size();
  const auto& parts = x.map().parts();
  for (int round = 0; round < options.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    FederatedMatrix::PartOp op{"trainLocal", &y, true};
    op.function = true;
    op.params = {{"model", options.model.ToJson()},
                 {"optimizer", options.optimizer.ToJson()},
                 {"batch_size", options.batch_size},
                 {"first_epoch", round},
                 {"seed", options.seed}};
    if (options.per_batch) {
      op.params["batches"] = 1;
      op.params["first_batch"] = round;
    }
    const Matrix broadcast = result.parameters.cast<double>();
    Result<std::vector<std::vector<Matrix>>> per_part = x.RunOnParts(fed, {op}, {broadcast});
    if (!per_part.ok()) return per_part.status().WithContext("round " + std::to_string(round + 1));
    Eigen::VectorXd delta = Eigen::VectorXd::Zero(n);
    double rows = 0, loss = 0, correct = 0;
    nlohmann::json sites = nlohmann::json::object();
    for (size_t i = 0; i < parts.size(); ++i) {
      const Matrix& r = (*per_part)[0][i];
      if (r.rows() != n + 3 || r.cols() != 1) return DataLoss("site '" + parts[i].site + "' returned an update of the wrong size");
      const double site_rows = r(n + 2, 0);
      delta += site_rows * r.col(0).head(n);  // FedAvg: weighted by the rows each site trained on
      rows += site_rows;
      loss += r(n, 0);
      correct += r(n + 1, 0);
      sites[parts[i].site] = {{"loss", site_rows > 0 ? r(n, 0) / site_rows : 0.0}, {"rows", site_rows}};
    }
    if (rows <= 0) return FailedPrecondition("round " + std::to_string(round + 1) + ": no site trained on any row");
    result.parameters += (delta / rows).cast<float>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double bytes_down = static_cast<double>(parts.size()) * static_cast<double>(n) * sizeof(double);
    const double bytes_up = static_cast<double>(parts.size()) * static_cast<double>(n + 3) * sizeof(double);
    nlohmann::json metrics = {{"round", round + 1}, {"loss", loss / rows}, {"bytes_down", bytes_down},
                              {"bytes_up", bytes_up}, {"seconds", seconds}, {"sites", sites}};
    IterationMetrics reported = {{"loss", loss / rows}, {"bytes_up", bytes_up}, {"bytes_down", bytes_down}};
    if (options.model.output == OutputKind::kSoftmax) {
      metrics["accuracy"] = correct / rows;
      reported.emplace_back("accuracy", correct / rows);
    }
    for (const auto& [site, m] : sites.items()) reported.emplace_back("loss@" + site, m["loss"].get<double>());
    FEDRA_LOG(kInfo) << "round " << round + 1 << ": training loss " << loss / rows << " over " << rows << " rows, "
                     << seconds << " s";
    result.rounds.push_back(std::move(metrics));
    FEDRA_RETURN_IF_ERROR(ReportIteration(options.on_iteration, round + 1, reported));
  }
  return result;
}

}  // namespace fedra

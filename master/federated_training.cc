#include "master/fedavg.h"

#include <chrono>

#include "common/logging.h"

namespace fedra {

namespace {

// A site that cannot be reached or is too slow sits a round out; any other failure (a refusal:
// bad settings for its data, privacy) is final, since asking again would not help.
bool SitsOut(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// Loss and accuracy of `params` on the validation rows of the sites that answer.
Result<nlohmann::json> Validate(Federation& fed, const Validation& v, const ModelSpec& model,
                                const Eigen::VectorXf& params) {
  FederatedMatrix::PartOp op{"evalModel", v.y, true};
  op.function = true;
  op.params = {{"model", model.ToJson()}};
  FEDRA_ASSIGN_OR_RETURN(auto per_part, v.x->RunOnEachPart(fed, {op}, {Matrix(params.cast<double>())}));
  double loss = 0, correct = 0, rows = 0;
  for (const Result<Matrix>& r : per_part[0]) {
    if (!r.ok()) {
      if (SitsOut(r.status())) continue;
      return r.status().WithContext("validation");
    }
    loss += (*r)(0, 0);
    correct += (*r)(1, 0);
    rows += (*r)(2, 0);
  }
  nlohmann::json out = {{"val_rows", rows}};
  if (rows > 0) {
    out["val_loss"] = loss / rows;
    if (model.output == OutputKind::kSoftmax) out["val_accuracy"] = correct / rows;
  }
  return out;
}

}  // namespace

Result<FedAvgResult> TrainFedAvg(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                 const FedAvgOptions& options, const Validation& validation) {
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
    const std::string where = "round " + std::to_string(round + 1);
    FEDRA_ASSIGN_OR_RETURN(auto per_part, x.RunOnEachPart(fed, {op}, {broadcast}));
    Eigen::VectorXd delta = Eigen::VectorXd::Zero(n);
    double rows = 0, loss = 0, correct = 0;
    nlohmann::json sites = nlohmann::json::object(), dropped = nlohmann::json::object();
    std::string reasons;
    for (size_t i = 0; i < parts.size(); ++i) {
      const Result<Matrix>& update = per_part[0][i];
      if (update.ok() && (update->rows() != n + 3 || update->cols() != 1)) {
        return DataLoss(where + ": site '" + parts[i].site + "' returned an update of the wrong size");
      }
      if (!update.ok()) {
        if (!SitsOut(update.status())) return update.status().WithContext(where);
        dropped[parts[i].site] = update.status().message();
        reasons += (reasons.empty() ? "" : "; ") + update.status().message();
        FEDRA_LOG(kWarn) << where << ": dropped site '" << parts[i].site << "': " << update.status().message();
        continue;
      }
      const Matrix& r = *update;
      const double site_rows = r(n + 2, 0);
      delta += site_rows * r.col(0).head(n);  // FedAvg: weighted by the rows each site trained on
      rows += site_rows;
      loss += r(n, 0);
      correct += r(n + 1, 0);
      sites[parts[i].site] = {{"loss", site_rows > 0 ? r(n, 0) / site_rows : 0.0}, {"rows", site_rows}};
    }
    const int answered = static_cast<int>(sites.size());
    if (answered < options.quorum) {
      return Unavailable(where + ": " + std::to_string(answered) + " of " + std::to_string(parts.size()) +
                         " sites answered, below the quorum of " + std::to_string(options.quorum) + ": " + reasons);
    }
    if (rows <= 0) return FailedPrecondition(where + ": no site trained on any row");
    result.parameters += (delta / rows).cast<float>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double bytes_down = static_cast<double>(parts.size()) * static_cast<double>(n) * sizeof(double);
    const double bytes_up = static_cast<double>(answered) * static_cast<double>(n + 3) * sizeof(double);
    nlohmann::json metrics = {{"round", round + 1}, {"loss", loss / rows},     {"bytes_down", bytes_down},
                              {"bytes_up", bytes_up}, {"seconds", seconds}, {"sites", sites}};
    if (!dropped.empty()) metrics["dropped"] = dropped;
    IterationMetrics reported = {{"loss", loss / rows}, {"bytes_up", bytes_up}, {"bytes_down", bytes_down},
                                 {"sites_answered", answered}};
    if (options.model.output == OutputKind::kSoftmax) {
      metrics["accuracy"] = correct / rows;
      reported.emplace_back("accuracy", correct / rows);
    }
    for (const auto& [site, m] : sites.items()) reported.emplace_back("loss@" + site, m["loss"].get<double>());
    if (validation.x) {
      FEDRA_ASSIGN_OR_RETURN(nlohmann::json scored, Validate(fed, validation, options.model, result.parameters));
      for (const auto& [key, value] : scored.items()) {
        metrics[key] = value;
        if (key != "val_rows") reported.emplace_back(key, value.get<double>());
      }
    }
    FEDRA_LOG(kInfo) << "round " << round + 1 << ": training loss " << loss / rows << " over " << rows << " rows, "
                     << seconds << " s";
    result.rounds.push_back(std::move(metrics));
    FEDRA_RETURN_IF_ERROR(ReportIteration(options.on_iteration, round + 1, reported));
  }
  return result;
}

}  // namespace fedra

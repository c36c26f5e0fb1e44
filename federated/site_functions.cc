#include "federated/site_functions.h"

#include "common/code_table.h"

#include <array>
#include <optional>
#include <string>

namespace fedra {
namespace {

// Transforms values it is given, which must not be protected rows.
constexpr OperationPrivacy NotOnRows(std::string_view risk) {
  OperationPrivacy p;
  p.on_protected = OnProtectedRows::kRefused;
  p.changes_values = true;
  p.risk = risk;
  return p;
}

// Privacy, besides the release rule on each output, on private-aggregate rows: k-means groups
// whole cells; logisticStats refuses coefficients that decide nearly every row; logistic
// statistics, training and evaluation withhold their counts of correct predictions (NaN); a
// training step's smallest group is its batch; labels must be columns as read. Only moments and
// kmeansStep have a noised form for dp-aggregate rows.
constexpr std::array kFunctions = {
    FunctionInfo{SiteFunction::kMoments, "moments", 1, 0, SumsRows(DpForm::kMoments), false, false,
                 "X -> 3 x ncol: the row count, column sums and column sums of squares"},
    FunctionInfo{SiteFunction::kClassCounts, "classCounts", 1, 0, SumsRows(DpForm::kNone), false, false,
                 "y (class codes 0..K-1) -> 1 x K rows per class, small classes left out"},
    FunctionInfo{SiteFunction::kLogisticStats, "logisticStats", 3, 0, SumsRows(DpForm::kNone, 0b010), false, false,
                 "X, y, W -> the log-loss gradient, then the loss, correct predictions and rows"},
    FunctionInfo{SiteFunction::kKMeansSeeds, "kmeansSeeds", 1, 0, SumsRows(DpForm::kNone), true, false,
                 "X -> micro-cluster means and weights for seeding k-means"},
    FunctionInfo{SiteFunction::kKMeansStep, "kmeansStep", 2, 0, SumsRows(DpForm::kClusterSums), true, false,
                 "X, stacked centres -> per centre: sums, counts and squared distances"},
    FunctionInfo{SiteFunction::kTrainLocal, "trainLocal", 3, 0, SumsRows(DpForm::kNone, 0b010), false, true,
                 "X, y, P -> a training update from P, then its statistics"},
    // Transforms an update (an aggregate) and keeps the residual; never rows.
    FunctionInfo{SiteFunction::kPackUpdate, "packUpdate", 1, 1,
                 NotOnRows("compression keeps the largest entries: an order statistic"), false, false,
                 "update [, residual] -> the compressed update; stores the new residual"},
    FunctionInfo{SiteFunction::kEvalModel, "evalModel", 3, 0, SumsRows(DpForm::kNone, 0b010), false, true,
                 "X, y, P -> the summed loss, correct predictions and rows"},
};
static_assert(kFunctions.size() == kSiteFunctionCount);

static_assert(ListedInCodeOrder(kFunctions), "kFunctions must list each code at its index");

// params.key as an integer in [min, max], or `fallback` when absent (required without one).
Result<int64_t> IntParam(const nlohmann::json& params, std::string_view function, const char* key,
                         std::optional<int64_t> fallback, int64_t min, int64_t max) {
  const auto it = params.find(key);
  if (it == params.end() && fallback) return *fallback;
  if (it == params.end() || !it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return InvalidArgument(std::string(function) + ": params." + key + " must be an integer in [" +
                           std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return it->get<int64_t>();
}

Result<bool> BoolParam(const nlohmann::json& params, std::string_view function, const char* key, bool fallback) {
  const auto it = params.find(key);
  if (it == params.end()) return fallback;
  if (!it->is_boolean()) return InvalidArgument(std::string(function) + ": params." + key + " must be true or false");
  return it->get<bool>();
}

// A seed: any non-negative integer, 1 when absent.
Result<uint64_t> SeedParam(const nlohmann::json& params, std::string_view function) {
  const auto it = params.find("seed");
  if (it == params.end()) return uint64_t{1};
  if (!it->is_number_unsigned())
    return InvalidArgument(std::string(function) + ": params.seed must be a non-negative integer");
  return it->get<uint64_t>();
}

const nlohmann::json& ObjectParam(const nlohmann::json& params, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto it = params.find(key);
  return it == params.end() ? kEmpty : *it;
}

}  // namespace

std::span<const FunctionInfo> SiteFunctions() { return kFunctions; }

const FunctionInfo& Describe(SiteFunction function) { return kFunctions[static_cast<size_t>(function)]; }

const FunctionInfo* FindFunction(std::string_view name) {
  for (const FunctionInfo& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

nlohmann::json LogisticStatsParams::ToJson() const { return {{"intercept", intercept}}; }

Result<LogisticStatsParams> LogisticStatsParams::Parse(const nlohmann::json& params) {
  LogisticStatsParams out;
  FEDRA_ASSIGN_OR_RETURN(out.intercept, BoolParam(params, "logisticStats", "intercept", true));
  return out;
}

nlohmann::json KMeansSeedsParams::ToJson() const { return {{"m", groups}, {"seed", seed}}; }

Result<KMeansSeedsParams> KMeansSeedsParams::Parse(const nlohmann::json& params) {
  KMeansSeedsParams out;
  FEDRA_ASSIGN_OR_RETURN(out.groups, IntParam(params, "kmeansSeeds", "m", std::nullopt, 1, int64_t{1} << 30));
  FEDRA_ASSIGN_OR_RETURN(out.seed, SeedParam(params, "kmeansSeeds"));
  return out;
}

nlohmann::json KMeansStepParams::ToJson() const { return {{"k", k}}; }

Result<KMeansStepParams> KMeansStepParams::Parse(const nlohmann::json& params) {
  KMeansStepParams out;
  FEDRA_ASSIGN_OR_RETURN(out.k, IntParam(params, "kmeansStep", "k", std::nullopt, 1, int64_t{1} << 20));
  return out;
}

nlohmann::json TrainLocalParams::ToJson() const {
  nlohmann::json out = {{"model", model.ToJson()},    {"optimizer", optimizer.ToJson()},
                        {"epochs", epochs},           {"batches", batches},
                        {"batch_size", batch_size},   {"seed", seed},
                        {"first_epoch", first_epoch}, {"first_batch", first_batch},
                        {"epoch_rows", epoch_rows},   {"update", gradient ? "gradient" : "delta"}};
  if (prox_mu > 0) out["prox_mu"] = prox_mu;
  return out;
}

Result<TrainLocalParams> TrainLocalParams::Parse(const nlohmann::json& params) {
  constexpr std::string_view kName = "trainLocal";
  TrainLocalParams out;
  FEDRA_ASSIGN_OR_RETURN(out.model, ParseModelSpec(ObjectParam(params, "model"), "model"));
  FEDRA_ASSIGN_OR_RETURN(out.optimizer, ParseOptimizerSpec(ObjectParam(params, "optimizer"), "optimizer"));
  FEDRA_ASSIGN_OR_RETURN(int64_t epochs, IntParam(params, kName, "epochs", 1, 0, 10000));
  FEDRA_ASSIGN_OR_RETURN(int64_t batches, IntParam(params, kName, "batches", 0, 0, 100000000));
  FEDRA_ASSIGN_OR_RETURN(int64_t batch_size, IntParam(params, kName, "batch_size", 32, 1, 1 << 20));
  FEDRA_ASSIGN_OR_RETURN(out.seed, SeedParam(params, kName));
  FEDRA_ASSIGN_OR_RETURN(int64_t first_epoch, IntParam(params, kName, "first_epoch", 0, 0, 1 << 30));
  FEDRA_ASSIGN_OR_RETURN(out.first_batch, IntParam(params, kName, "first_batch", 0, 0, int64_t{1} << 30));
  FEDRA_ASSIGN_OR_RETURN(out.epoch_rows, IntParam(params, kName, "epoch_rows", 0, 0, kMaxEpochRows));
  out.epochs = static_cast<int>(epochs);
  out.batches = static_cast<int>(batches);
  out.batch_size = static_cast<int>(batch_size);
  out.first_epoch = static_cast<int>(first_epoch);
  const nlohmann::json update = params.value("update", nlohmann::json("delta"));
  if (update != "delta" && update != "gradient") {
    return InvalidArgument("trainLocal: params.update must be \"delta\" or \"gradient\"");
  }
  out.gradient = update == "gradient";
  const auto mu = params.find("prox_mu");
  if (mu != params.end()) {
    if (!mu->is_number() || !(mu->get<double>() >= 0 && mu->get<double>() < 1e6)) {
      return InvalidArgument("trainLocal: params.prox_mu must be in [0, 1e6)");
    }
    out.prox_mu = mu->get<double>();
  }
  return out;
}

nlohmann::json PackUpdateParams::ToJson() const { return {{"stats", stats}, {"compression", compression.ToJson()}}; }

Result<PackUpdateParams> PackUpdateParams::Parse(const nlohmann::json& params) {
  PackUpdateParams out;
  FEDRA_ASSIGN_OR_RETURN(int64_t stats, IntParam(params, "packUpdate", "stats", 0, 0, 16));
  out.stats = static_cast<int>(stats);
  FEDRA_ASSIGN_OR_RETURN(out.compression, ParseCompressionSpec(ObjectParam(params, "compression"), "compression"));
  return out;
}

nlohmann::json EvalModelParams::ToJson() const { return {{"model", model.ToJson()}}; }

Result<EvalModelParams> EvalModelParams::Parse(const nlohmann::json& params) {
  EvalModelParams out;
  FEDRA_ASSIGN_OR_RETURN(out.model, ParseModelSpec(ObjectParam(params, "model"), "model"));
  return out;
}

}  // namespace fedra

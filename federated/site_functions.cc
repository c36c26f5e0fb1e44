#include "federated/site_functions.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "common/code_table.h"
#include "common/config.h"

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

// A row-level function of the model the master sends: the rows stay, as values no rule lets out.
constexpr OperationPrivacy PredictsRows() {
  OperationPrivacy p;
  p.changes_values = true;
  p.mixes_columns = true;
  return p;
}

// Privacy, besides the release rule on each output, on private-aggregate rows: k-means groups
// whole cells; logisticStats and logisticHessian refuse coefficients that decide nearly every row; logistic
// statistics, training and evaluation withhold their counts of correct predictions (NaN); a
// training step's smallest group is its batch; labels must be columns as read. Only moments and
// kmeansStep have a noised form for dp-aggregate rows.
constexpr std::array kFunctions = {
    FunctionInfo{SiteFunction::kMoments, "moments", 1, 0, SumsRows(DpForm::kMoments), false, false,
                 "X -> 3 x ncol: the row count, column sums and column sums of squares"},
    FunctionInfo{SiteFunction::kClassCounts, "classCounts", 1, 0, SumsRows(DpForm::kNone), false, false,
                 "y (class codes 0..K-1) -> 1 x K rows per class, small classes left out"},
    FunctionInfo{SiteFunction::kLogisticStats, "logisticStats", 3, 0, SumsRows(DpForm::kNone, 0b010), false, false,
                 "X, y, W -> the log-loss gradient, then the loss, correct predictions, rows and certain rows"},
    FunctionInfo{SiteFunction::kLogisticHessian, "logisticHessian", 2, 0, SumsRows(DpForm::kNone), false, false,
                 "X, W -> the Hessian of the summed log-loss at W"},
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
    // A saved model's outputs stay at the site with the rows' protection; marked as mixing
    // columns, so private-aggregate data never sums them, and with no bounds, so dp-aggregate
    // data refuses them.
    FunctionInfo{SiteFunction::kPredictModel, "predictModel", 2, 0, PredictsRows(), false, false,
                 "X, P -> per row: the saved model's outputs (prediction, probabilities, cluster, scores)"},
    FunctionInfo{SiteFunction::kScoreModel, "scoreModel", 3, 0, SumsRows(DpForm::kNone, 0b010), false, true,
                 "X, y, P -> the sums of a saved model's metrics: errors, or log-loss, confusion and histograms"},
    // Scales an update (an aggregate); never rows.
    FunctionInfo{SiteFunction::kWeighUpdate, "weighUpdate", 1, 0, NotOnRows("it weighs model updates"), false, false,
                 "update -> rows x delta, rows, loss sum, correct (or the delta alone): for a secure sum"},
};
static_assert(kFunctions.size() == kSiteFunctionCount);

static_assert(ListedInCodeOrder(kFunctions), "kFunctions must list each code at its index");

// A function's parameters, read with the project's field reader: errors read
// "trainLocal: params.batch_size: expected ...". Fields it does not know are left alone, since a
// request's own options (return, noise_multiplier) travel in the same object.
JsonFields Fields(const nlohmann::json& params, std::string_view function) {
  return JsonFields(params, std::string(function) + ": params");
}

// An object field (a model, an optimizer, a compression); {} when absent.
const nlohmann::json& ObjectField(JsonFields& f, std::string_view key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* child = f.Child(key);
  return child ? *child : kEmpty;
}

// An integer field stored in an int.
Status IntField(JsonFields& f, std::string_view key, int* out, int64_t min, int64_t max) {
  int64_t value = *out;
  FEDRA_RETURN_IF_ERROR(f.Optional(key, &value, min, max));
  *out = static_cast<int>(value);
  return Status::Ok();
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
  JsonFields f = Fields(params, "logisticStats");
  FEDRA_RETURN_IF_ERROR(f.Optional("intercept", &out.intercept));
  return out;
}

nlohmann::json LogisticHessianParams::ToJson() const { return {{"intercept", intercept}}; }

Result<LogisticHessianParams> LogisticHessianParams::Parse(const nlohmann::json& params) {
  LogisticHessianParams out;
  JsonFields f = Fields(params, "logisticHessian");
  FEDRA_RETURN_IF_ERROR(f.Optional("intercept", &out.intercept));
  return out;
}

nlohmann::json KMeansSeedsParams::ToJson() const { return {{"m", groups}, {"seed", seed}}; }

Result<KMeansSeedsParams> KMeansSeedsParams::Parse(const nlohmann::json& params) {
  KMeansSeedsParams out;
  JsonFields f = Fields(params, "kmeansSeeds");
  FEDRA_RETURN_IF_ERROR(f.Required("m", &out.groups, 1, int64_t{1} << 30));
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &out.seed));
  return out;
}

nlohmann::json KMeansStepParams::ToJson() const { return {{"k", k}}; }

Result<KMeansStepParams> KMeansStepParams::Parse(const nlohmann::json& params) {
  KMeansStepParams out;
  JsonFields f = Fields(params, "kmeansStep");
  FEDRA_RETURN_IF_ERROR(f.Required("k", &out.k, 1, int64_t{1} << 20));
  return out;
}

nlohmann::json TrainLocalParams::ToJson() const {
  nlohmann::json out = {{"model", model.ToJson()},    {"optimizer", optimizer.ToJson()},
                        {"epochs", epochs},           {"batches", batches},
                        {"batch_size", batch_size},   {"seed", seed},
                        {"first_epoch", first_epoch}, {"first_batch", first_batch},
                        {"epoch_rows", epoch_rows},   {"update", gradient ? "gradient" : "delta"}};
  if (prox_mu > 0) out["prox_mu"] = prox_mu;
  if (pack) out["pack"] = true;
  if (weigh) out["weigh"] = weigh->ToJson();
  return out;
}

Result<TrainLocalParams> TrainLocalParams::Parse(const nlohmann::json& params) {
  TrainLocalParams out;
  JsonFields f = Fields(params, "trainLocal");
  FEDRA_ASSIGN_OR_RETURN(out.model, ParseModelSpec(ObjectField(f, "model"), "model"));
  FEDRA_ASSIGN_OR_RETURN(out.optimizer, ParseOptimizerSpec(ObjectField(f, "optimizer"), "optimizer"));
  FEDRA_RETURN_IF_ERROR(IntField(f, "epochs", &out.epochs, 0, 10000));
  FEDRA_RETURN_IF_ERROR(IntField(f, "batches", &out.batches, 0, 100000000));
  FEDRA_RETURN_IF_ERROR(IntField(f, "batch_size", &out.batch_size, 1, 1 << 20));
  FEDRA_RETURN_IF_ERROR(f.Optional("seed", &out.seed));
  FEDRA_RETURN_IF_ERROR(IntField(f, "first_epoch", &out.first_epoch, 0, 1 << 30));
  FEDRA_RETURN_IF_ERROR(f.Optional("first_batch", &out.first_batch, 0, int64_t{1} << 30));
  FEDRA_RETURN_IF_ERROR(f.Optional("epoch_rows", &out.epoch_rows, 0, kMaxEpochRows));
  std::string update = "delta";
  FEDRA_RETURN_IF_ERROR(f.Optional("update", &update));
  if (update != "delta" && update != "gradient") {
    return InvalidArgument(f.Path("update") + ": expected \"delta\" or \"gradient\"");
  }
  out.gradient = update == "gradient";
  // [0, 1e6): the largest double below 1e6 is the top of the closed range.
  FEDRA_RETURN_IF_ERROR(f.Optional("prox_mu", &out.prox_mu, 0, std::nextafter(1e6, 0.0)));
  FEDRA_RETURN_IF_ERROR(f.Optional("pack", &out.pack));
  if (const nlohmann::json* weigh = f.Child("weigh")) {
    FEDRA_ASSIGN_OR_RETURN(out.weigh, WeighUpdateParams::Parse(*weigh));
    if (out.weigh->stats != kTrainingStats) {
      return InvalidArgument(f.Path("weigh") + ".stats: the update has " + std::to_string(kTrainingStats) +
                             " statistics, not " + std::to_string(out.weigh->stats));
    }
    if (out.pack) return InvalidArgument(f.Path("weigh") + ": an update is packed or weighed, not both");
  }
  return out;
}

nlohmann::json PackUpdateParams::ToJson() const { return {{"stats", stats}, {"compression", compression.ToJson()}}; }

Result<PackUpdateParams> PackUpdateParams::Parse(const nlohmann::json& params) {
  PackUpdateParams out;
  JsonFields f = Fields(params, "packUpdate");
  FEDRA_RETURN_IF_ERROR(IntField(f, "stats", &out.stats, 0, 16));
  FEDRA_ASSIGN_OR_RETURN(out.compression, ParseCompressionSpec(ObjectField(f, "compression"), "compression"));
  return out;
}

Result<WeighUpdateParams> WeighUpdateParams::Parse(const nlohmann::json& params) {
  WeighUpdateParams out;
  JsonFields f = Fields(params, "weighUpdate");
  FEDRA_RETURN_IF_ERROR(IntField(f, "stats", &out.stats, 0, 16));
  FEDRA_RETURN_IF_ERROR(f.Optional("weighted", &out.weighted));
  FEDRA_RETURN_IF_ERROR(f.Optional("scale", &out.scale, 1e-18, 1e18));
  return out;
}

nlohmann::json EvalModelParams::ToJson() const { return {{"model", model.ToJson()}}; }

Result<EvalModelParams> EvalModelParams::Parse(const nlohmann::json& params) {
  EvalModelParams out;
  JsonFields f = Fields(params, "evalModel");
  FEDRA_ASSIGN_OR_RETURN(out.model, ParseModelSpec(ObjectField(f, "model"), "model"));
  return out;
}

namespace {

constexpr std::array<std::pair<ModelKind, std::string_view>, 5> kModelKinds = {{
    {ModelKind::kLinear, "linear"},
    {ModelKind::kLogistic, "logistic"},
    {ModelKind::kMlp, "mlp"},
    {ModelKind::kKMeans, "kmeans"},
    {ModelKind::kPca, "pca"},
}};

}  // namespace

nlohmann::json ModelRunSpec::ToJson() const {
  nlohmann::json out = {{"kind", ""}, {"intercept", intercept}};
  for (const auto& [k, name] : kModelKinds) {
    if (k == kind) out["kind"] = name;
  }
  if (kind == ModelKind::kMlp) out["model"] = mlp.ToJson();
  return out;
}

Result<ModelRunSpec> ModelRunSpec::Parse(const nlohmann::json& params, std::string_view function) {
  ModelRunSpec out;
  JsonFields f = Fields(params, function);
  std::string kind;
  FEDRA_RETURN_IF_ERROR(f.Required("kind", &kind));
  const auto* found =
      std::find_if(kModelKinds.begin(), kModelKinds.end(), [&](const auto& k) { return k.second == kind; });
  if (found == kModelKinds.end()) {
    return InvalidArgument(f.Path("kind") + ": unknown model kind '" + kind + "' (linear, logistic, mlp, kmeans, pca)");
  }
  out.kind = found->first;
  FEDRA_RETURN_IF_ERROR(f.Optional("intercept", &out.intercept));
  if (out.kind == ModelKind::kMlp) {
    FEDRA_ASSIGN_OR_RETURN(out.mlp, ParseModelSpec(ObjectField(f, "model"), "model"));
    if (out.mlp.inputs < 1 || out.mlp.outputs < 1) {
      return InvalidArgument(f.Path("model") + ": a saved model names its inputs and outputs");
    }
  }
  return out;
}

Result<PredictModelParams> PredictModelParams::Parse(const nlohmann::json& params) {
  FEDRA_ASSIGN_OR_RETURN(ModelRunSpec model, ModelRunSpec::Parse(params, "predictModel"));
  return PredictModelParams{std::move(model)};
}

nlohmann::json ScoreModelParams::ToJson() const {
  nlohmann::json out = model.ToJson();
  out["bins"] = bins;
  return out;
}

Result<ScoreModelParams> ScoreModelParams::Parse(const nlohmann::json& params) {
  ScoreModelParams out;
  FEDRA_ASSIGN_OR_RETURN(out.model, ModelRunSpec::Parse(params, "scoreModel"));
  if (out.model.kind == ModelKind::kKMeans || out.model.kind == ModelKind::kPca) {
    return InvalidArgument("scoreModel: params.kind: k-means and PCA are scored with kmeansStep and moments");
  }
  JsonFields f = Fields(params, "scoreModel");
  FEDRA_RETURN_IF_ERROR(f.Optional("bins", &out.bins, 2, kMaxScoreBins));
  return out;
}

}  // namespace fedra

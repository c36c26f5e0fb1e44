// The named functions a site runs for kCall requests (training steps, algorithm statistics), as
// both sides must agree on them: a code, the name that travels on the wire, the inputs, the
// privacy behaviour (federated/privacy.h), and one typed parameter struct per function whose
// JSON form is written by the master and parsed by the site here, in one place. A request is
// built from the struct (Request::Run(out, KMeansStepParams{k}, ...)), so its type picks the
// function. The site implements them in site-agent/functions.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "federated/model_spec.h"
#include "federated/privacy.h"
#include "federated/update_codec.h"

namespace fedra {

// In table order (site_functions.cc). Requests carry the name, so codes may be renumbered.
enum class SiteFunction : uint8_t {
  kMoments,
  kClassCounts,
  kLogisticStats,
  kLogisticHessian,
  kKMeansSeeds,
  kKMeansStep,
  kTrainLocal,
  kPackUpdate,
  kEvalModel,
  kPredictModel,
  kScoreModel,
  kWeighUpdate,
};
inline constexpr size_t kSiteFunctionCount = static_cast<size_t>(SiteFunction::kWeighUpdate) + 1;

struct FunctionInfo {
  SiteFunction code;
  std::string_view name;
  int arity;
  int optional_inputs;  // inputs after the first `arity` that a call may leave out
  OperationPrivacy privacy;
  // Groups rows (k-means): on private-aggregate rows it is given the rows' cells and groups whole cells.
  bool groups_cells;
  // Trains or evaluates a model the master sends. Its exact statistics over batches the master
  // sizes can be differenced into rows, so on private-aggregate data it runs only where the data
  // owner allowed training (site.json: "allow_training").
  bool trains;
  std::string_view doc;  // inputs and output, one line
};

// Every site function, indexed by code.
std::span<const FunctionInfo> SiteFunctions();
const FunctionInfo& Describe(SiteFunction function);
// The function called `name`, or nullptr.
const FunctionInfo* FindFunction(std::string_view name);

// Parameters, one struct per function. Parse reports a bad field as "<function>: params.<field>
// ...". Keys it does not know are left alone: a request's own options (return, noise_multiplier)
// travel in the same object.
struct MomentsParams {
  static constexpr SiteFunction kFunction = SiteFunction::kMoments;
  nlohmann::json ToJson() const { return nlohmann::json::object(); }
  static Result<MomentsParams> Parse(const nlohmann::json&) { return MomentsParams{}; }
};

struct ClassCountsParams {
  static constexpr SiteFunction kFunction = SiteFunction::kClassCounts;
  nlohmann::json ToJson() const { return nlohmann::json::object(); }
  static Result<ClassCountsParams> Parse(const nlohmann::json&) { return ClassCountsParams{}; }
};

struct LogisticStatsParams {
  static constexpr SiteFunction kFunction = SiteFunction::kLogisticStats;
  bool intercept = true;  // W's first row is the intercept

  nlohmann::json ToJson() const;
  static Result<LogisticStatsParams> Parse(const nlohmann::json& params);
};

struct LogisticHessianParams {
  static constexpr SiteFunction kFunction = SiteFunction::kLogisticHessian;
  bool intercept = true;  // W's first row is the intercept

  nlohmann::json ToJson() const;
  static Result<LogisticHessianParams> Parse(const nlohmann::json& params);
};

struct KMeansSeedsParams {
  static constexpr SiteFunction kFunction = SiteFunction::kKMeansSeeds;
  int64_t groups = 1;  // micro-clusters wanted ("m")
  uint64_t seed = 1;

  nlohmann::json ToJson() const;
  static Result<KMeansSeedsParams> Parse(const nlohmann::json& params);
};

struct KMeansStepParams {
  static constexpr SiteFunction kFunction = SiteFunction::kKMeansStep;
  int64_t k = 1;  // centres per restart; the centres input stacks restarts of k rows

  nlohmann::json ToJson() const;
  static Result<KMeansStepParams> Parse(const nlohmann::json& params);
};

// A training update made ready for a secure sum: weighted, rows x delta, then the WeighedStats
// (FedAvg's numerator and denominator, and the round's loss), all but the withheld flag times
// `scale` (the master's 1 / the rows a round trains at all sites, so that the sum is about a mean
// and fits a fixed point of known range); unweighted, the delta alone (DP-FedAvg, which clips and
// noises it in the secure sum's mask phase).
enum WeighedStat { kWeighedRows = 0, kWeighedLoss, kWeighedCorrect, kWeighedWithheld };
inline constexpr int kWeighedStats = 4;  // after the weighted values: rows, loss sum, correct, withheld (0/1)

struct WeighUpdateParams {
  static constexpr SiteFunction kFunction = SiteFunction::kWeighUpdate;
  int stats = 0;  // statistics after the update's values (kTrainingStats)
  bool weighted = true;
  double scale = 1;

  nlohmann::json ToJson() const { return {{"stats", stats}, {"weighted", weighted}, {"scale", scale}}; }
  static Result<WeighUpdateParams> Parse(const nlohmann::json& params);
};

struct TrainLocalParams {
  static constexpr SiteFunction kFunction = SiteFunction::kTrainLocal;
  ModelSpec model;
  OptimizerSpec optimizer;
  int epochs = 1;   // passes over the rows...
  int batches = 0;  // ...or, when > 0, exactly this many batches
  int batch_size = 32;
  uint64_t seed = 1;
  int first_epoch = 0;      // where this call starts in the site's sequence of epochs...
  int64_t first_batch = 0;  // ...or batches (see site-agent/trainer.h)
  int64_t epoch_rows = 0;   // rows in one epoch; 0: the site's own
  bool gradient = false;    // return the batches' mean gradient at P (no steps), not new - P
  double prox_mu = 0;       // FedProx
  // Return the update packed as packUpdate packs it uncompressed, and store nothing (output 0)...
  bool pack = false;
  // ...or store it weighed for a secure sum, as weighUpdate would (its stats: kTrainingStats).
  // Either is one request in place of two, with no copy of the update in doubles first.
  std::optional<WeighUpdateParams> weigh;

  nlohmann::json ToJson() const;
  static Result<TrainLocalParams> Parse(const nlohmann::json& params);
};

struct PackUpdateParams {
  static constexpr SiteFunction kFunction = SiteFunction::kPackUpdate;
  int stats = 0;  // statistics after the update's values, sent as they are
  CompressionSpec compression;

  nlohmann::json ToJson() const;
  static Result<PackUpdateParams> Parse(const nlohmann::json& params);
};

struct EvalModelParams {
  static constexpr SiteFunction kFunction = SiteFunction::kEvalModel;
  ModelSpec model;

  nlohmann::json ToJson() const;
  static Result<EvalModelParams> Parse(const nlohmann::json& params);
};

// A saved model as the site runs it on rows (master/jobs/saved_model.h has the whole document):
// its kind, and how the parameter input P is laid out.
//   linear:   P (intercept + d) x 1, the coefficients          -> the predicted value
//   logistic: P (intercept + d) x (K - 1), class 0 the reference -> the class, then K probabilities
//   mlp:      P the parameter column of `model` (model_spec.h)  -> softmax: the class, then K
//             probabilities; linear: the outputs
//   kmeans:   P k x d, the centres                             -> the nearest centre, its squared distance
//   pca:      P (2 + k) x d: the centre, the scale, then the k components as rows -> k scores
enum class ModelKind : uint8_t { kLinear, kLogistic, kMlp, kKMeans, kPca };

struct ModelRunSpec {
  ModelKind kind = ModelKind::kLinear;
  bool intercept = true;  // linear, logistic
  ModelSpec mlp;          // mlp

  // Classes with probabilities (logistic; mlp with softmax), or predicts values (linear; mlp
  // with a linear output); k-means and PCA do neither.
  bool Classifies() const {
    return kind == ModelKind::kLogistic || (kind == ModelKind::kMlp && mlp.output == OutputKind::kSoftmax);
  }
  bool Regresses() const {
    return kind == ModelKind::kLinear || (kind == ModelKind::kMlp && mlp.output == OutputKind::kLinear);
  }

  nlohmann::json ToJson() const;
  static Result<ModelRunSpec> Parse(const nlohmann::json& params, std::string_view function);
};

// A saved model's outputs for each row, which stay at the site (the column layout above).
struct PredictModelParams {
  static constexpr SiteFunction kFunction = SiteFunction::kPredictModel;
  ModelRunSpec model;

  nlohmann::json ToJson() const { return model.ToJson(); }
  static Result<PredictModelParams> Parse(const nlohmann::json& params);
};

// The sums a saved model's evaluation metrics come from, against labels y (one column):
//   regression (linear; mlp with a linear output): rows, sum e^2, sum |e|, sum y, sum y^2 (e = y - prediction)
//   classification (logistic; mlp with softmax): rows, the summed log-loss, the K x K confusion
//   counts (true class major), then per class k two histograms of `bins` bins of its
//   probability: rows of other classes, rows of class k.
struct ScoreModelParams {
  static constexpr SiteFunction kFunction = SiteFunction::kScoreModel;
  ModelRunSpec model;
  int64_t bins = 200;

  nlohmann::json ToJson() const;
  static Result<ScoreModelParams> Parse(const nlohmann::json& params);
};
inline constexpr int64_t kMaxScoreBins = 10000;

// Where scoreModel's statistics are, for K classes and `bins` bins.
struct ScoreLayout {
  int64_t classes = 0;  // 0: regression
  int64_t bins = 0;
  static constexpr int64_t kRegressionStats = 5;
  int64_t confusion() const { return 2; }  // K x K, true class major
  int64_t histograms() const { return confusion() + classes * classes; }
  int64_t histogram(int64_t k, bool positive) const { return histograms() + (2 * k + (positive ? 1 : 0)) * bins; }
  int64_t size() const { return classes == 0 ? kRegressionStats : histograms() + 2 * classes * bins; }
};

// A parameter struct of a site function.
template <typename P>
concept SiteFunctionParams = requires(const P& p) {
  { P::kFunction } -> std::convertible_to<SiteFunction>;
  { p.ToJson() } -> std::convertible_to<nlohmann::json>;
};

}  // namespace fedra

// The instruction set both sides agree on: one entry per operation and site function, found by
// the name that travels, with transpose partners that pair up, and parameter structs whose JSON
// form parses back to what was written and refuses what is malformed with the field's name.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "federated/instruction.h"

namespace fedra {
namespace {

TEST_CASE("operation names are unique and find their own entry") {
  std::set<std::string_view> names;
  for (const OperationInfo& op : Operations()) {
    CAPTURE(op.name);
    CHECK(names.insert(op.name).second);
    REQUIRE(FindOperation(op.name) != nullptr);
    CHECK(FindOperation(op.name)->code == op.code);
    CHECK(&Describe(op.code) == &op);
    CHECK((op.arity >= 1 && op.arity <= 3));
    // Row and column kernels trade places on a transposed block, and only in pairs.
    CHECK(Describe(op.on_transposed).on_transposed == op.code);
  }
  CHECK(Describe(Op::kColSums).on_transposed == Op::kRowSums);
  CHECK(Describe(Op::kMatmul).on_transposed == Op::kTmatmul);
  CHECK(Describe(Op::kAdd).on_transposed == Op::kAdd);
  CHECK(FindOperation("nosuchop") == nullptr);
  CHECK(FindOperation("moments") == nullptr);  // a site function, not an operation
}

TEST_CASE("site function names are unique, distinct from operations, and declare their privacy") {
  for (const FunctionInfo& fn : SiteFunctions()) {
    CAPTURE(fn.name);
    REQUIRE(FindFunction(fn.name) != nullptr);
    CHECK(FindFunction(fn.name)->code == fn.code);
    CHECK(&Describe(fn.code) == &fn);
    CHECK(FindOperation(fn.name) == nullptr);
    CHECK_FALSE(fn.doc.empty());
    if (fn.privacy.on_protected != OnProtectedRows::kAllowed) CHECK_FALSE(fn.privacy.risk.empty());
  }
  CHECK(FindFunction("colSums") == nullptr);
}

TEST_CASE("an instruction's type follows what it is built from") {
  const Request exec = Request::Run(5, Op::kTmatmul, {1, 2}, true);
  CHECK(exec.type == RequestType::kExec);
  CHECK(exec.name == "tmatmul");
  CHECK(exec.params.at("return") == true);
  const Request call = Request::Run(6, KMeansStepParams{.k = 3}, {1, 2});
  CHECK(call.type == RequestType::kCall);
  CHECK(call.name == "kmeansStep");
  CHECK(call.params.at("k") == 3);
  CHECK_FALSE(call.params.contains("return"));
  const Request reversed = Request::Run(7, {Op::kSub, ReversedParams()}, {1, 2});
  CHECK(IsReversed(reversed.params));
  CHECK_FALSE(IsReversed(exec.params));
}

TEST_CASE("parameters parse back to what was written") {
  TrainLocalParams train;
  train.model = *ParseModelSpec({{"inputs", 4}, {"outputs", 3}, {"hidden", {8}}}, "model");
  train.optimizer.lr = 0.5f;
  train.batches = 7;
  train.first_batch = 21;
  train.batch_size = 16;
  train.seed = uint64_t{1} << 63;
  train.epoch_rows = 900;
  train.gradient = true;
  train.prox_mu = 0.25;
  const Result<TrainLocalParams> back = TrainLocalParams::Parse(train.ToJson());
  REQUIRE(back.ok());
  CHECK(back->model.ToJson() == train.model.ToJson());
  CHECK(back->optimizer.lr == doctest::Approx(0.5));
  CHECK(back->batches == 7);
  CHECK(back->first_batch == 21);
  CHECK(back->batch_size == 16);
  CHECK(back->seed == train.seed);
  CHECK(back->epoch_rows == 900);
  CHECK(back->gradient);
  CHECK(back->prox_mu == 0.25);

  const PackUpdateParams pack{.stats = 4, .compression = {.topk = 0.1, .bits = 8, .clip = 2}};
  const Result<PackUpdateParams> pack_back = PackUpdateParams::Parse(pack.ToJson());
  REQUIRE(pack_back.ok());
  CHECK(pack_back->stats == 4);
  CHECK(pack_back->compression.topk == 0.1);
  CHECK(pack_back->compression.bits == 8);

  const KMeansSeedsParams seeds{.groups = 40, .seed = 9};
  CHECK(KMeansSeedsParams::Parse(seeds.ToJson())->groups == 40);
  CHECK(KMeansSeedsParams::Parse(seeds.ToJson())->seed == 9);
  CHECK_FALSE(LogisticStatsParams::Parse(LogisticStatsParams{.intercept = false}.ToJson())->intercept);
  const SplitRowsParams split{.fraction = 0.2, .seed = 3, .held_out = true};
  CHECK(SplitRowsParams::Parse(split.ToJson())->held_out);
  CHECK(ColumnsParams::Parse(ColumnsParams{{2, 0}}.ToJson())->indices == std::vector<int64_t>{2, 0});
}

TEST_CASE("malformed parameters are refused with the function and field") {
  auto message = [](const Status& s) { return s.message(); };
  CHECK(message(KMeansStepParams::Parse(nlohmann::json::object()).status()).find("kmeansStep: params.k") !=
        std::string::npos);
  CHECK(message(KMeansStepParams::Parse({{"k", 0}}).status()).find("kmeansStep: params.k") != std::string::npos);
  CHECK(message(KMeansSeedsParams::Parse({{"m", 4}, {"seed", -1}}).status()).find("params.seed") != std::string::npos);
  CHECK(message(TrainLocalParams::Parse({{"update", "sideways"}}).status()).find("params.update") != std::string::npos);
  CHECK(message(TrainLocalParams::Parse({{"batch_size", "many"}}).status()).find("params.batch_size") !=
        std::string::npos);
  CHECK(message(TrainLocalParams::Parse({{"prox_mu", -1}}).status()).find("params.prox_mu") != std::string::npos);
  CHECK(message(LogisticStatsParams::Parse({{"intercept", "yes"}}).status()).find("params.intercept") !=
        std::string::npos);
  CHECK(message(PackUpdateParams::Parse({{"stats", 99}}).status()).find("params.stats") != std::string::npos);
  CHECK(message(SplitRowsParams::Parse({{"fraction", 1.5}}).status()).find("params.fraction") != std::string::npos);
  CHECK(message(SplitRowsParams::Parse({{"fraction", 0.5}, {"held_out", 1}}).status()).find("params.held_out") !=
        std::string::npos);
  CHECK(message(ColumnsParams::Parse({{"indices", {1, -2}}}).status()).find("not a column index") != std::string::npos);
  // A request's own options travel in the same object and are left alone.
  CHECK(KMeansStepParams::Parse({{"k", 2}, {"return", true}, {"noise_multiplier", 8}}).ok());
}

}  // namespace
}  // namespace fedra

// The site's executor without the network: reads, operations, privacy refusals, the memory
// budget, atomicity of failed requests, and the audit trail they leave.
#include <doctest/doctest.h>

#include <sstream>

#include "federated/instruction.h"
#include "federated/protocol.h"
#include "federated/update_codec.h"
#include "site-agent/executor.h"
#include "tests/support/raw_request.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

struct Site {
  TempDir dir{"fedra-executor"};
  SiteLimits limits;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<SymbolTable> symbols;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<PrivacyLedger> ledger;
  std::unique_ptr<Executor> executor;
  PeerIdentity master{"master", "m", "test"};

  explicit Site(uint64_t budget = 1 << 20) {
    std::string csv = "a,b,c\n";
    for (int i = 0; i < 20; ++i) csv += std::to_string(i) + "," + std::to_string(i * 2) + ",1\n";
    WriteFile(dir / "d.csv", csv);
    WriteFile(dir / "bad.csv", "a,b\n1,2\n3,x\n");
    std::map<std::string, DatasetSpec> specs;
    auto add = [&](const std::string& name, const char* file, PrivacyLevel level) {
      DatasetSpec spec;
      spec.name = name;
      spec.path = dir / file;
      spec.privacy = level;
      specs[name] = spec;
    };
    add("agg", "d.csv", PrivacyLevel::kPrivateAggregate);
    add("priv", "d.csv", PrivacyLevel::kPrivate);
    add("pub", "d.csv", PrivacyLevel::kPublic);
    add("bad", "bad.csv", PrivacyLevel::kPublic);
    catalog = std::make_unique<Catalog>(specs);
    catalog->Probe();
    symbols = std::make_unique<SymbolTable>(budget);
    audit = std::move(AuditLog::Open(dir / "audit.jsonl")).value();
    ledger = std::move(PrivacyLedger::Open(dir / "ledger.json")).value();
    Restart();
  }

  // A new executor with the current limits.
  void Restart() {
    executor = std::make_unique<Executor>("a", limits, catalog.get(), symbols.get(), audit.get(), ledger.get());
  }

  // As the master would see it: a value released as it is held arrives as a value.
  Response Run(Request q) {
    Response r = executor->Execute(RequestBatch{1, {std::move(q)}}, master).responses.at(0);
    if (r.held_value) r.value = *std::exchange(r.held_value, nullptr);
    return r;
  }

  // Training rows in variables 1 (pub's a and b) and 2 (c, labels all 1), and a 2-3-2 model for
  // them.
  TrainLocalParams SmallTraining() {
    REQUIRE(Run(Request::Read(1, "pub", {"a", "b"})).status.ok());
    REQUIRE(Run(Request::Read(2, "pub", {"c"})).status.ok());
    TrainLocalParams train;
    train.model.inputs = 2;
    train.model.hidden = {3};
    train.model.outputs = 2;
    train.batch_size = 5;
    return train;
  }

  // A put of float32 parameters as the site receives it: decoded from the master's encoding.
  static Request FloatPut(VarId var, const Eigen::VectorXf& values) {
    RequestBatch batch;
    const Status decoded =
        DecodeRequestBatch(EncodeRequestBatch({1, {Request::PutEncoded(var, EncodeFloatValue(values))}}), &batch);
    REQUIRE_MESSAGE(decoded.ok(), decoded.ToString());
    return std::move(batch.requests.at(0));
  }

  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(ReadFile(dir / "audit.jsonl"));
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  }
};

}  // namespace

TEST_CASE("read selects columns and aggregates leave only when privacy allows") {
  Site site;
  Response r = site.Run(Request::Read(1, "agg", {"b", "a"}));
  REQUIRE(r.status.ok());
  CHECK(r.meta["rows"] == 20);
  CHECK(r.meta["columns"] == nlohmann::json({"b", "a"}));

  Response sums = site.Run(Request::Run(0, Op::kColSums, {1}, true));
  REQUIRE(sums.status.ok());
  CHECK((*sums.value)(0, 0) == doctest::Approx(380.0));  // 2 * (0 + ... + 19)
  CHECK((*sums.value)(0, 1) == doctest::Approx(190.0));

  Response row_level = site.Run(Request::Get(1));
  CHECK(row_level.status.code() == StatusCode::kPermissionDenied);
  CHECK(row_level.status.message().find("row-level") != std::string::npos);

  auto lines = site.AuditLines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[1]["bytes_out"] == 16);
  CHECK(lines[2]["allowed"] == false);
  CHECK(lines[2]["dataset"] == "agg");
  CHECK(lines[2]["reason"].get<std::string>().find("row-level") != std::string::npos);
}

TEST_CASE("private data never leaves, public data does") {
  Site site;
  REQUIRE(site.Run(Request::Read(1, "priv")).status.ok());
  CHECK(site.Run(Request::Run(0, Op::kColSums, {1}, true)).status.code() == StatusCode::kPermissionDenied);
  CHECK(site.Run(Request::Get(1)).status.code() == StatusCode::kPermissionDenied);
  REQUIRE(site.Run(Request::Read(2, "pub")).status.ok());
  Response got = site.Run(Request::Get(2));
  REQUIRE(got.status.ok());
  CHECK(got.value->rows() == 20);
}

TEST_CASE("aggregates are released by the rows that differ, whatever the shift") {
  Site site;  // min_aggregate_rows = 10
  // t: 20 distinct values; s: 1 on three rows, 0 on the rest — a mask that is part of the data.
  std::string csv = "t,s\n";
  for (int i = 0; i < 20; ++i) csv += std::to_string(1.5 * i + 0.25) + "," + (i % 7 == 3 ? "1" : "0") + "\n";
  WriteFile(site.dir / "sparse.csv", csv);
  DatasetSpec spec;
  spec.name = "sparse";
  spec.path = site.dir / "sparse.csv";
  spec.privacy = PrivacyLevel::kPrivateAggregate;
  site.catalog = std::make_unique<Catalog>(std::map<std::string, DatasetSpec>{{"sparse", spec}});
  site.catalog->Probe();
  site.Restart();
  REQUIRE(site.Run(Request::Read(1, "sparse", {"t"})).status.ok());
  REQUIRE(site.Run(Request::Read(2, "sparse", {"s"})).status.ok());
  REQUIRE(site.Run(Request::Put(3, Matrix::Constant(1, 1, 1))).status.ok());
  REQUIRE(site.Run(Request::Run(4, {Op::kSub, ReversedParams()}, {2, 3})).status.ok());  // 1 - s

  // t alone, and t against itself: every row differs from every other.
  CHECK(site.Run(Request::Run(0, Op::kColSums, {1}, true)).status.ok());
  CHECK(site.Run(Request::Run(0, Op::kTsmm, {1}, true)).status.ok());
  // Against s or 1 - s: a sum over the three marked rows, given the total of t. Refused both ways,
  // without saying how many rows it was.
  for (VarId mask : {VarId{2}, VarId{4}}) {
    CAPTURE(mask);
    const Status colsums = site.Run(Request::Run(0, Op::kColSums, {mask}, true)).status;
    CHECK(colsums.code() == StatusCode::kPermissionDenied);
    CHECK(colsums.message().find("fewer rows than the site's minimum of 10") != std::string::npos);
    CHECK(colsums.message().find('3') == std::string::npos);
    CHECK(site.Run(Request::Run(0, Op::kTmatmul, {1, mask}, true)).status.code() == StatusCode::kPermissionDenied);
  }
  // A column with two common values: a product is judged at both. g splits the rows 10 / 10; p is
  // non-zero on the g = 1 rows and on one g = 0 row, which p's product with g - 1 would sum alone.
  std::string two = "g,p\n";
  for (int i = 0; i < 20; ++i)
    two += std::string(i % 2 ? "1," : "0,") + (i % 2 || i == 4 ? std::to_string(i + 0.5) : "0") + "\n";
  WriteFile(site.dir / "two.csv", two);
  DatasetSpec both = spec;
  both.name = "two";
  both.path = site.dir / "two.csv";
  site.catalog = std::make_unique<Catalog>(std::map<std::string, DatasetSpec>{{"sparse", spec}, {"two", both}});
  site.catalog->Probe();
  site.Restart();
  REQUIRE(site.Run(Request::Read(5, "two")).status.ok());
  CHECK(site.Run(Request::Run(0, Op::kTsmm, {5}, true)).status.code() == StatusCode::kPermissionDenied);

  // With a minimum of 3 rows, the same sums may leave.
  site.limits.min_aggregate_rows = 3;
  site.Restart();
  CHECK(site.Run(Request::Run(0, Op::kTmatmul, {1, 4}, true)).status.ok());
}

TEST_CASE("a failed request changes nothing") {
  Site site;
  REQUIRE(site.Run(Request::Read(1, "pub")).status.ok());
  const uint64_t used = site.symbols->used_bytes();
  // Refused release: the output variable must not appear.
  REQUIRE(site.Run(Request::Read(2, "priv")).status.ok());
  const uint64_t used2 = site.symbols->used_bytes();
  CHECK(site.Run(Request::Run(3, Op::kColSums, {2}, true)).status.code() == StatusCode::kPermissionDenied);
  CHECK(site.Run(Request::Get(3)).status.code() == StatusCode::kNotFound);
  // A shape mismatch, an unknown variable, a taken output id.
  REQUIRE(site.Run(Request::Put(4, Matrix::Ones(5, 1))).status.ok());
  CHECK(site.Run(Request::Run(5, Op::kMatmul, {1, 4})).status.message().find("do not fit") != std::string::npos);
  CHECK(site.Run(Request::Run(5, Op::kColSums, {99})).status.message() == "unknown variable 99");
  CHECK(site.Run(Request::Read(1, "pub")).status.code() == StatusCode::kFailedPrecondition);
  CHECK(site.Run(Request::Get(5)).status.code() == StatusCode::kNotFound);
  // A clear naming one unknown id removes nothing.
  CHECK(site.Run(Request::Clear({1, 99})).status.code() == StatusCode::kNotFound);
  CHECK(site.Run(Request::Get(1)).status.ok());
  CHECK(site.symbols->used_bytes() == used2 + 5 * sizeof(double));
  CHECK(used2 > used);
}

TEST_CASE("reads over the memory budget are refused before allocating") {
  Site site(/*budget=*/600);  // 20 x 3 doubles = 480 bytes fit once, not twice
  REQUIRE(site.Run(Request::Read(1, "pub")).status.ok());
  Response r = site.Run(Request::Read(2, "pub"));
  CHECK(r.status.code() == StatusCode::kResourceExhausted);
  CHECK(r.status.message().find("memory budget") != std::string::npos);
  CHECK(site.symbols->size() == 1);
}

TEST_CASE("an operation whose result the budget cannot hold is refused before it computes") {
  Site site(/*budget=*/16 << 20);
  // One row of 200,000 columns (1.6 MB): its t(X) %*% X would be 320 GB.
  REQUIRE(site.Run(Request::Put(1, Matrix::Ones(1, 200000))).status.ok());
  Response tsmm = site.Run(Request::Run(2, Op::kTsmm, {1}));
  CHECK(tsmm.status.code() == StatusCode::kResourceExhausted);
  CHECK_MESSAGE(tsmm.status.message().find("tsmm: needs 320000000000 bytes but the site's memory budget has") == 0,
                tsmm.status.message());
  // What fits still runs: its column sums.
  CHECK(site.Run(Request::Run(3, Op::kColSums, {1})).status.ok());
  CHECK(site.symbols->size() == 2);
}

TEST_CASE("bad names and bad cells give errors that say where") {
  Site site;
  Response unknown = site.Run(Request::Read(1, "nope"));
  CHECK(unknown.status.code() == StatusCode::kNotFound);
  CHECK(unknown.status.message().find("this site has: agg, bad, priv, pub") != std::string::npos);
  Response path = site.Run(Request::Read(1, "../d.csv"));
  CHECK(path.status.code() == StatusCode::kInvalidArgument);
  CHECK(path.status.message().find("never files") != std::string::npos);
  Response cell = site.Run(Request::Read(1, "bad"));
  CHECK(cell.status.code() == StatusCode::kDataLoss);
  CHECK(cell.status.message().find("dataset 'bad' (bad.csv): line 3, column 2 (\"b\")") != std::string::npos);
  CHECK(cell.status.message().find(site.dir.path().string()) == std::string::npos);  // no folder leaks
  CHECK(site.Run(RawExec(2, "nosuchop", {1})).status.message() == "unknown operation 'nosuchop'");
}

TEST_CASE("the catalog lists shapes and privacy, never paths") {
  Site site;
  Response r = site.Run(Request::ListCatalog());
  const std::string text = r.meta.dump();
  CHECK(text.find("d.csv") == std::string::npos);
  CHECK(text.find(site.dir.path().string()) == std::string::npos);
  CHECK(r.meta["datasets"][0]["name"] == "agg");
  CHECK(r.meta["datasets"][0]["rows"] == 20);
  CHECK(r.meta["datasets"][0]["privacy"] == "private-aggregate");
}

TEST_CASE("a file rewritten since the site started is an error, for plain and transformed reads") {
  Site site;
  // Cut in the middle of a record, as a data owner rewriting the file would leave it for a moment.
  const std::string text = ReadFile(site.dir / "d.csv");
  WriteFile(site.dir / "d.csv", text.substr(0, text.size() / 2 + 1));
  const Response plain = site.Run(Request::Read(1, "pub", {"a", "b"}));
  CHECK(plain.status.code() == StatusCode::kDataLoss);
  const Response encoded = site.Run(Request::ReadEncoded(2, "pub", {"a"}, {{"a", {{"type", "numeric"}}}}));
  CHECK(encoded.status.code() == StatusCode::kDataLoss);
  CHECK_MESSAGE(encoded.status.message().find("changed since the site started") != std::string::npos,
                encoded.status.message());
  // The site goes on serving.
  WriteFile(site.dir / "d.csv", text);
  CHECK(site.Run(Request::Read(3, "pub", {"a"})).status.ok());
}

TEST_CASE("the audit log rotates at its size limit and keeps the newest files") {
  TempDir dir;
  const std::filesystem::path path = dir / "audit.jsonl";
  auto log = std::move(AuditLog::Open(path, AuditRotation{2000, 2})).value();
  for (int i = 0; i < 100; ++i) {
    REQUIRE(log->Append(AuditEvent{"master 'm'", "get", "d", {static_cast<VarId>(i)}, 0, AuditOutcome::kDone, {}, {}})
                .ok());
  }
  std::vector<int> seen;
  for (const std::filesystem::path& file :
       {std::filesystem::path(path.string() + ".2"), std::filesystem::path(path.string() + ".1"), path}) {
    REQUIRE(std::filesystem::exists(file));
    CHECK(std::filesystem::file_size(file) <= 2000);
    CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
          std::filesystem::perms::none);
    std::istringstream in(ReadFile(file));
    for (std::string line; std::getline(in, line);) seen.push_back(nlohmann::json::parse(line)["variables"][0]);
  }
  CHECK_FALSE(std::filesystem::exists(path.string() + ".3"));
  // Whole lines, the newest ones, in order, ending with the last.
  REQUIRE(seen.size() > 10);
  for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] == seen[i - 1] + 1);
  CHECK(seen.back() == 99);
}

TEST_CASE("the moments function returns count, sums and sums of squares") {
  Site site;
  REQUIRE(site.Run(Request::Read(1, "pub", {"a"})).status.ok());
  REQUIRE(site.Run(Request::Run(2, MomentsParams{}, {1})).status.ok());
  Response r = site.Run(Request::Get(2));
  REQUIRE(r.status.ok());
  CHECK((*r.value)(0, 0) == 20);
  CHECK((*r.value)(1, 0) == 190);
  CHECK((*r.value)(2, 0) == 2470);  // sum of i^2 for i < 20
}

TEST_CASE("trainLocal keeps its rows as floats across calls while their variable lives") {
  Site site;
  const TrainLocalParams train = site.SmallTraining();
  REQUIRE(site.Run(Request::Put(3, Matrix::Zero(train.model.parameter_count(), 1))).status.ok());
  const auto kept_bytes = [&] { return site.Run(Request::Ping()).meta["training_rows_bytes"].get<uint64_t>(); };
  CHECK(kept_bytes() == 0);
  for (VarId out : {4, 5}) REQUIRE(site.Run(Request::Run(out, train, {1, 2, 3})).status.ok());
  CHECK(kept_bytes() == 20 * 2 * sizeof(float));  // one copy for both calls
  // The copy goes with its variable; a new variable of the same rows gets its own.
  REQUIRE(site.Run(Request::Clear({1})).status.ok());
  CHECK(kept_bytes() == 0);
  REQUIRE(site.Run(Request::Read(1, "pub", {"a", "b"})).status.ok());
  REQUIRE(site.Run(Request::Run(6, train, {1, 2, 3})).status.ok());
  CHECK(kept_bytes() == 20 * 2 * sizeof(float));
}

TEST_CASE("parameters put as float32 are held as floats, and train and score as the same values in doubles do") {
  Site site;
  const TrainLocalParams train = site.SmallTraining();
  const Eigen::VectorXf p = Eigen::VectorXf::Random(train.model.parameter_count()) * 0.5f;
  const uint64_t before = site.symbols->used_bytes();
  Request put = Site::FloatPut(3, p);
  REQUIRE(put.float_value.has_value());
  REQUIRE(site.Run(std::move(put)).status.ok());
  CHECK(site.symbols->used_bytes() - before == p.size() * sizeof(float));  // half what doubles take
  REQUIRE(site.Run(Request::Put(13, p.cast<double>())).status.ok());

  // Functions that read floats take them as they lie; the same values in doubles give the same bits.
  const Response trained = site.Run(Request::Run(4, train, {1, 2, 3}, true));
  const Response trained_wide = site.Run(Request::Run(14, train, {1, 2, 13}, true));
  REQUIRE_MESSAGE(trained.status.ok(), trained.status.ToString());
  REQUIRE(trained_wide.status.ok());
  CHECK(*trained.value == *trained_wide.value);
  const Response scored = site.Run(Request::Run(5, EvalModelParams{train.model}, {1, 2, 3}, true));
  const Response scored_wide = site.Run(Request::Run(15, EvalModelParams{train.model}, {1, 2, 13}, true));
  REQUIRE_MESSAGE(scored.status.ok(), scored.status.ToString());
  REQUIRE(scored_wide.status.ok());
  CHECK(*scored.value == *scored_wide.value);
  // Everything else sees them widened: a get, an operation.
  const Response got = site.Run(Request::Get(3));
  REQUIRE(got.status.ok());
  CHECK(*got.value == p.cast<double>());
  const Response squares = site.Run(Request::Run(6, Op::kTmatmul, {3, 3}, true));
  const Response squares_wide = site.Run(Request::Run(16, Op::kTmatmul, {13, 13}, true));
  REQUIRE_MESSAGE(squares.status.ok(), squares.status.ToString());
  CHECK(*squares.value == *squares_wide.value);
  // Parameters of another shape are refused by name.
  REQUIRE(site.Run(Site::FloatPut(7, Eigen::VectorXf::Zero(5))).status.ok());
  const Response wrong = site.Run(Request::Run(8, EvalModelParams{train.model}, {1, 2, 7}, true));
  CHECK(wrong.status.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(wrong.status.message().find("evalModel") != std::string::npos, wrong.status.message());
  REQUIRE(site.Run(Request::Clear({3, 7})).status.ok());
  CHECK(site.Run(Request::Get(3)).status.code() == StatusCode::kNotFound);
}

TEST_CASE("trainLocal packs its update when asked: the bytes packUpdate makes of it, and nothing stored") {
  Site site;
  TrainLocalParams train = site.SmallTraining();
  REQUIRE(site.Run(Site::FloatPut(3, Eigen::VectorXf::Random(train.model.parameter_count()))).status.ok());
  REQUIRE(site.Run(Request::Run(4, train, {1, 2, 3})).status.ok());
  const Response two_steps = site.Run(Request::Run(0, PackUpdateParams{kTrainingStats, {}}, {4}, true));
  REQUIRE_MESSAGE(two_steps.status.ok(), two_steps.status.ToString());
  REQUIRE_FALSE(two_steps.packed.empty());

  train.pack = true;
  const size_t held = site.symbols->size();
  const Response one_step = site.Run(Request::Run(0, train, {1, 2, 3}, true));
  REQUIRE_MESSAGE(one_step.status.ok(), one_step.status.ToString());
  CHECK(one_step.packed == two_steps.packed);  // the same training, seed and statistics
  CHECK(site.symbols->size() == held);
  // It stores nothing, so it must be asked for output 0 and a return, before any training.
  for (Request q : {Request::Run(5, train, {1, 2, 3}, true), Request::Run(0, train, {1, 2, 3})}) {
    const Response refused = site.Run(std::move(q));
    CHECK(refused.status.code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(refused.status.message().find("ask for output 0 with \"return\"") != std::string::npos,
                  refused.status.message());
  }
  CHECK(site.symbols->size() == held);
}

TEST_CASE("trainLocal weighs its update for a secure sum when asked: what weighUpdate makes of it") {
  Site site;
  TrainLocalParams train = site.SmallTraining();
  REQUIRE(site.Run(Site::FloatPut(3, Eigen::VectorXf::Random(train.model.parameter_count()))).status.ok());
  REQUIRE(site.Run(Request::Run(4, train, {1, 2, 3})).status.ok());
  VarId out = 10;
  for (const bool weighted : {true, false}) {
    CAPTURE(weighted);
    const WeighUpdateParams weigh{kTrainingStats, weighted, 0.125};
    const Response two_steps = site.Run(Request::Run(++out, weigh, {4}, true));
    REQUIRE_MESSAGE(two_steps.status.ok(), two_steps.status.ToString());
    train.weigh = weigh;
    const Response one_step = site.Run(Request::Run(++out, train, {1, 2, 3}, true));
    REQUIRE_MESSAGE(one_step.status.ok(), one_step.status.ToString());
    CHECK(*one_step.value == *two_steps.value);  // the same training, seed and scale
    CHECK(one_step.meta.value("weighed", false));
  }
  train.pack = true;
  const Response both = site.Run(Request::Run(0, train, {1, 2, 3}, true));
  CHECK(both.status.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(both.status.message().find("packed or weighed, not both") != std::string::npos, both.status.message());
}

TEST_CASE("a float32 value is widened for another use only where the budget has room for the copy") {
  Site site(64'000);
  const Eigen::VectorXf p = Eigen::VectorXf::Random(5'000);  // 20 kB held, 40 kB widened
  REQUIRE(site.Run(Site::FloatPut(1, p)).status.ok());
  const Response got = site.Run(Request::Get(1));
  REQUIRE_MESSAGE(got.status.ok(), got.status.ToString());
  CHECK(*got.value == p.cast<double>());
  REQUIRE(site.Run(Site::FloatPut(2, p)).status.ok());  // 40 kB held: the next copy does not fit
  const Response refused = site.Run(Request::Get(1));
  CHECK(refused.status.code() == StatusCode::kResourceExhausted);
  CHECK_MESSAGE(refused.status.message().find("widened to doubles") != std::string::npos, refused.status.message());
}

TEST_CASE("the audit request returns the newest events, oldest first") {
  Site site;
  for (int i = 0; i < 30; ++i) (void)site.Run(Request::Read(100 + i, "pub", {"a"}));
  Response r = site.Run(Request::Audit(5));
  REQUIRE(r.status.ok());
  const nlohmann::json& events = r.meta["events"];
  REQUIRE(events.size() == 5);
  CHECK(events[0]["variables"][0] == 125);
  CHECK(events[4]["variables"][0] == 129);
  CHECK(site.Run(Request::Audit(0)).status.code() == StatusCode::kInvalidArgument);
}

TEST_CASE("k-means seeds and steps share only clusters as large as the policy's minimum") {
  Site site;  // d.csv: a = 0..19, b = 2a, c = 1; min_aggregate_rows = 10
  REQUIRE(site.Run(Request::Read(1, "agg")).status.ok());
  REQUIRE(site.Run(Request::Read(2, "pub")).status.ok());
  for (VarId data : {VarId{1}, VarId{2}}) {
    CAPTURE(data);
    Response seeds = site.Run(Request::Run(0, KMeansSeedsParams{.groups = 8, .seed = 3}, {data}, true));
    REQUIRE_MESSAGE(seeds.status.ok(), seeds.status.ToString());
    REQUIRE(seeds.value);
    CHECK(seeds.value->col(3).sum() == 20);  // every row in some micro-cluster
    if (data == 1) {
      CHECK(seeds.value->col(3).minCoeff() >= 10);
    } else {
      CHECK(seeds.value->rows() == 8);  // public data: as many as asked for
    }
  }
  // Centres that split the rows 7 / 13: so for public data; private-aggregate rows are grouped in
  // two cells of 10 neighbouring rows, which go whole to the nearer centre.
  REQUIRE(site.Run(Request::Put(3, Matrix{{1, 2, 1}, {12, 24, 1}})).status.ok());
  Response pub = site.Run(Request::Run(0, KMeansStepParams{.k = 2}, {2, 3}, true));
  REQUIRE_MESSAGE(pub.status.ok(), pub.status.ToString());
  CHECK((*pub.value)(0, 3) == 7);
  CHECK((*pub.value)(0, 0) == 21);  // 0 + 1 + ... + 6
  Response agg = site.Run(Request::Run(0, KMeansStepParams{.k = 2}, {1, 3}, true));
  REQUIRE_MESSAGE(agg.status.ok(), agg.status.ToString());
  CHECK((*agg.value)(0, 3) == 10);
  CHECK((*agg.value)(0, 0) == 45);  // 0 + 1 + ... + 9
  CHECK((*agg.value)(1, 3) == 10);
}

}  // namespace fedra

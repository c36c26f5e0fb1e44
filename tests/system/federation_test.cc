// End to end on loopback: real certificates, real fedra-site processes, the master's federated
// colSums and t(X) %*% X checked against the same computation on the pooled data.
#include <doctest/doctest.h>

#include <signal.h>

#include "master/tensor/federated_matrix.h"
#include "tests/support/local_federation.h"
#include "tests/support/random_data.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::TempDir;

constexpr double kTolerance = 1e-9;  // relative, for sums of a few thousand doubles

Matrix RandomMatrix(int rows, int cols, unsigned seed) { return testing::NormalMatrix(rows, cols, seed, 3.0, 10.0); }

bool Near(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a - b).cwiseAbs().maxCoeff() <= kTolerance * std::max(1.0, b.cwiseAbs().maxCoeff());
}

std::vector<std::string> Names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("s" + std::to_string(i));
  return names;
}

}  // namespace

TEST_CASE("federated colSums and t(X) %*% X equal the pooled computation") {
  // Uneven splits: one tiny site, one mid-size, one large.
  const std::vector<int> split = {37, 412, 1551};
  const std::vector<std::string> columns = {"x1", "x2", "x3", "x4", "x5", "x6", "x7"};
  for (int n_sites = 1; n_sites <= 3; ++n_sites) {
    CAPTURE(n_sites);
    TempDir dir;
    LocalFederation local(dir.path(), Names(n_sites));
    const std::vector<int> sizes(split.begin(), split.begin() + n_sites);
    int total = 0;
    for (int n : sizes) total += n;
    const Matrix pooled = RandomMatrix(total, 7, 100 + n_sites);
    local.AddSplitCsvDataset("measurements", pooled, sizes, columns, "private-aggregate");
    local.StartAll();
    auto fed = local.Connect();

    Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "measurements");
    REQUIRE_MESSAGE(x.ok(), x.status().ToString());
    CHECK(x->rows() == total);
    CHECK(x->cols() == 7);
    CHECK(x->column_names() == columns);
    REQUIRE(x->map().parts().size() == static_cast<size_t>(n_sites));
    CHECK(x->map().parts().back().range.end == total);

    Result<Matrix> sums = x->ColSums(*fed);
    REQUIRE_MESSAGE(sums.ok(), sums.status().ToString());
    CHECK(Near(*sums, pooled.colwise().sum()));
    Result<Matrix> gram = x->TransposeSelfProduct(*fed);
    REQUIRE_MESSAGE(gram.ok(), gram.status().ToString());
    CHECK(Near(*gram, pooled.transpose() * pooled));

    // Column selection travels to the sites; only the chosen columns come back.
    Result<FederatedMatrix> sub = FederatedMatrix::Read(*fed, "measurements", {"x3", "x1"});
    REQUIRE(sub.ok());
    Result<Matrix> sub_sums = sub->ColSums(*fed);
    REQUIRE(sub_sums.ok());
    Matrix expected(1, 2);
    expected << pooled.col(2).sum(), pooled.col(0).sum();
    CHECK(Near(*sub_sums, expected));
  }
}

TEST_CASE("sites that disagree on columns are reported by name and nothing is left behind") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.AddCsvDataset("a", "d", RandomMatrix(20, 2, 1), {"p", "q"}, "private-aggregate");
  local.AddCsvDataset("b", "d", RandomMatrix(20, 3, 2), {"p", "q", "r"}, "private-aggregate");
  local.StartAll();
  auto fed = local.Connect();
  Result<FederatedMatrix> x = FederatedMatrix::Read(*fed, "d");
  REQUIRE_FALSE(x.ok());
  CHECK_MESSAGE(x.status().message().find("against site 'a'; site 'b' has 'r' besides") != std::string::npos,
                x.status().message());
  // Asked for by name, 'r' is missing at site a: the failed read released site b's variable,
  // which is cleared with the next batch, before anything else in it runs.
  Result<FederatedMatrix> pr = FederatedMatrix::Read(*fed, "d", {"p", "r"});
  REQUIRE_FALSE(pr.ok());
  CHECK_MESSAGE(pr.status().message().find("site 'a'") != std::string::npos, pr.status().message());
  CHECK(pr.status().message().find("unknown column \"r\"") != std::string::npos);
  auto catalogs = fed->CallAll({Request::ListCatalog()});
  REQUIRE(FirstError(catalogs).ok());
  for (const auto& [site, responses] : catalogs) CHECK((*responses)[0].meta["variables"] == 0);
  CHECK(testing::ReadFile(local.audit_log("b")).find("\"request\":\"clear\"") != std::string::npos);
}

TEST_CASE("the master reconnects after a site restarts") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.StartAll();
  auto fed = local.Connect();
  CHECK(FirstError(fed->CallAll({Request::Ping()})).ok());
  CHECK(local.Stop("a") == 0);
  SiteResponses down = fed->CallAll({Request::Ping()});
  Status s = FirstError(down);
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find("site 'a'") != std::string::npos);
  CHECK(down.at("b").ok());  // the other site is unaffected
  local.Start("a");
  SiteResponses up = fed->CallAll({Request::Ping()});
  CHECK_MESSAGE(FirstError(up).ok(), FirstError(up).ToString());
  CHECK((*up.at("a"))[0].meta["site"] == "a");
}

TEST_CASE("a silent site times out with an error naming it, and the others still answer") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(2));
  REQUIRE(FirstError(fed->CallAll({Request::Ping()})).ok());
  local.process("b").Signal(SIGSTOP);
  // The signal is asynchronous: wait until every thread of the site has actually stopped.
  REQUIRE(testing::WaitFor([&] { return local.process("b").Stopped(); }, std::chrono::seconds(5)));
  const auto start = std::chrono::steady_clock::now();
  SiteResponses r = fed->CallAll({Request::Ping()});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  local.process("b").Signal(SIGCONT);
  Status s = FirstError(r);
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(s.message().find("site 'b'") != std::string::npos);
  CHECK(s.message().find("no answer within 2 s") != std::string::npos);
  CHECK(r.at("a").ok());
  CHECK(waited < 10.0);
  // Once it runs again, the next call succeeds over a fresh connection.
  CHECK(FirstError(fed->CallAll({Request::Ping()})).ok());
}

TEST_CASE("SIGTERM stops a site cleanly") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a"});
  local.StartAll();
  auto fed = local.Connect();
  REQUIRE(FirstError(fed->CallAll({Request::Ping()})).ok());
  CHECK(local.Stop("a") == 0);
  CHECK(testing::ReadFile(local.log("a")).find("stopped") != std::string::npos);
}

TEST_CASE("fedra-master summary prints the federated result as JSON") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  Matrix a = RandomMatrix(30, 2, 5), b = RandomMatrix(45, 2, 6);
  local.AddCsvDataset("a", "d", a, {"u", "v"}, "private-aggregate");
  local.AddCsvDataset("b", "d", b, {"u", "v"}, "private-aggregate");
  local.StartAll();
  local.WriteFederationJson(dir / "federation.json");
  const std::string out = (dir / "out.json").string();
  // --flag=value and --flag value read alike.
  const std::string cmd = std::string(FEDRA_MASTER_BIN) +
                          " summary --federation=" + (dir / "federation.json").string() + " --dataset d > " + out +
                          " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  nlohmann::json result = nlohmann::json::parse(testing::ReadFile(out));
  CHECK(result["rows"] == 75);
  CHECK(result["colSums"][0].get<double>() == doctest::Approx(a.col(0).sum() + b.col(0).sum()).epsilon(1e-12));
  CHECK(result["tXX"][1][1].get<double>() ==
        doctest::Approx(a.col(1).squaredNorm() + b.col(1).squaredNorm()).epsilon(1e-12));
  // A private request fails with exit status 1 and a message naming the site.
  const std::string bad = std::string(FEDRA_MASTER_BIN) + " summary --federation " +
                          (dir / "federation.json").string() + " --dataset nope > /dev/null 2>&1";
  CHECK(WEXITSTATUS(std::system(bad.c_str())) == 1);
}

// Runs `command` through the shell; returns its exit status and what it printed (both streams).
std::pair<int, std::string> Shell(const std::string& command, const std::filesystem::path& out) {
  const int status = std::system((command + " > '" + out.string() + "' 2>&1").c_str());
  return {WEXITSTATUS(status), testing::ReadFile(out)};
}

TEST_CASE("the command lines explain themselves and refuse what a command does not take") {
  TempDir dir;
  const std::string master = FEDRA_MASTER_BIN, site = FEDRA_SITE_BIN;
  const std::filesystem::path out = dir / "out.txt";
  auto [help_status, help] = Shell(master + " help", out);
  CHECK(help_status == 0);
  for (const char* text :
       {"sites", "summary", "run", "serve", "kmeans", "params.k (integer, required)", "nn", "Exit status"}) {
    CHECK_MESSAGE(help.find(text) != std::string::npos, text);
  }
  CHECK(Shell(master + " --help", out).second == help);
  auto [run_help_status, run_help] = Shell(master + " run --help", out);
  CHECK(run_help_status == 0);
  CHECK(run_help.find("--job") != std::string::npos);
  CHECK(run_help.find("--listen") == std::string::npos);  // serve's, not run's

  auto [no_job, no_job_text] = Shell(master + " run --federation f.json", out);
  CHECK(no_job == 2);
  CHECK(no_job_text.find("--job") != std::string::npos);
  auto [foreign, foreign_text] = Shell(master + " sites --federation f.json --job j.json", out);
  CHECK(foreign == 2);
  CHECK(foreign_text.find("--job") != std::string::npos);
  CHECK(Shell(master + " train --federation f.json", out).first == 2);
  CHECK(Shell(master, out).first == 2);
  auto [level, level_text] = Shell(master + " sites --federation f.json --log-level loud", out);
  CHECK(level == 2);
  CHECK(level_text.find("loud") != std::string::npos);
  // Usage is right, the file is not: that is the federation's error (1), naming the file.
  auto [missing, missing_text] = Shell(master + " sites --federation " + (dir / "none.json").string(), out);
  CHECK(missing == 1);
  CHECK(missing_text.find("none.json") != std::string::npos);

  auto [site_help_status, site_help] = Shell(site + " --help", out);
  CHECK(site_help_status == 0);
  CHECK(site_help.find("--config") != std::string::npos);
  CHECK(Shell(site, out).first == 2);
  CHECK(Shell(site + " --config site.json --port 7000", out).first == 2);
}

}  // namespace fedra

namespace fedra {

TEST_CASE("large values travel both ways intact") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a"});
  local.StartAll();
  auto fed = local.Connect();
  Matrix m = RandomMatrix(50'000, 20, 9);  // 8 MB
  const VarId var = fed->NewVarId();
  Status put = FirstError(fed->CallAll({Request::Put(var, m)}));
  REQUIRE_MESSAGE(put.ok(), put.ToString(), testing::SiteLog(local, "a"));
  SiteResponses got = fed->CallAll({Request::Get(var)});
  REQUIRE_MESSAGE(FirstError(got).ok(), FirstError(got).ToString());
  CHECK(*(*got.at("a"))[0].value == m);
}

}  // namespace fedra

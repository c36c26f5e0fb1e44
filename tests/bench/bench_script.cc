// The lecture's lmCG script (analyses/lmCG.dml, verbatim) against the built-in lmCG on three
// loopback sites, in the same run: seconds per iteration of each on rows x cols (default
// 1,000,000 x 100) of synthetic regression data, and their ratio. Both hold the same matrix at
// the sites (put there first, not timed); an iteration of either is one batch per site:
// t(X) %*% (X %*% p) at the sites, the CG update at the master. The script's iterations are
// timed between its loop's checks (after the first, which also runs the setup's t(X) %*% y),
// the built-in's as the difference between 6 and 1 iterations, over 5; best of two runs each.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "master/algorithms/lm.h"
#include "master/script/interpreter.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

int main(int argc, char** argv) {
  using namespace fedra;
  const Eigen::Index rows = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const Eigen::Index cols = argc > 2 ? std::atol(argv[2]) : 100;
  std::printf("script benchmark: the lecture's lmCG, %ld x %ld, three sites on loopback\n", static_cast<long>(rows),
              static_cast<long>(cols));
  std::ifstream file(std::string(FEDRA_SOURCE_DIR) + "/analyses/lmCG.dml");
  std::stringstream script;
  script << file.rdbuf();
  if (script.str().empty()) {
    std::fprintf(stderr, "cannot read analyses/lmCG.dml\n");
    return 1;
  }

  // Z = [X y], y = X w + noise, columns on scales from 0.01 to 100.
  Matrix z(rows, cols + 1);
  {
    std::mt19937 rng(5);
    std::normal_distribution<double> dist;
    for (Eigen::Index j = 0; j < cols; ++j) {
      const double scale = std::pow(10.0, static_cast<double>(j % 5) - 2);
      for (Eigen::Index i = 0; i < rows; ++i) z(i, j) = scale * (3 + dist(rng));
    }
    z.col(cols) = z.leftCols(cols) * Eigen::VectorXd::LinSpaced(cols, -1, 1);
    for (Eigen::Index i = 0; i < rows; ++i) z(i, cols) += 0.1 * dist(rng);
  }

  testing::TempDir dir("fedra-bench-script");
  testing::LocalFederation sites(dir.path(), {"a", "b", "c"});
  for (const auto& s : sites.sites()) {
    sites.EditConfig(s, [](nlohmann::json& c) {
      c["limits"]["max_message_bytes"] = int64_t{4} << 30;
      c["limits"]["memory_budget_bytes"] = int64_t{8} << 30;
    });
  }
  sites.StartAll();
  auto fed = sites.Connect(std::chrono::seconds(600));
  std::vector<std::string> names;
  for (Eigen::Index j = 0; j <= cols; ++j) names.push_back("c" + std::to_string(j));
  const Eigen::Index split[3] = {rows / 5, rows / 3, rows - rows / 5 - rows / 3};
  std::vector<std::pair<std::string, Matrix>> parts;
  for (int s = 0, row = 0; s < 3; row += split[s], ++s)
    parts.emplace_back(sites.sites()[s], z.middleRows(row, split[s]));
  z.resize(0, 0);
  Result<FederatedMatrix> data = FederatedMatrix::Distribute(*fed, std::move(parts), names);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  std::vector<int64_t> features;
  for (int64_t j = 0; j < cols; ++j) features.push_back(j);
  Result<FederatedMatrix> x = data->SelectColumns(*fed, features);
  Result<FederatedMatrix> y = data->SelectColumns(*fed, {cols});
  if (!x.ok() || !y.ok()) return 1;

  // The built-in: the same penalty, no intercept, as the script solves.
  auto builtin = [&]() -> double {
    auto time_cg = [&](int iterations) {
      const auto t0 = Clock::now();
      Result<LmModel> cg = FitLm(*fed, *data, features, cols,
                                 LmOptions{.lambda = 0.001,
                                           .intercept = false,
                                           .conjugate_gradient = true,
                                           .max_iterations = iterations,
                                           .tolerance = 0});
      return cg.ok() ? Since(t0) : -1.0;
    };
    const double one = time_cg(1), six = time_cg(6);
    return one < 0 || six < 0 ? -1.0 : (six - one) / 5;
  };
  int iterations = 0;
  auto scripted = [&]() -> double {
    std::vector<Clock::time_point> checks;
    script::ScriptOptions options;
    options.args = {{"1", "X"}, {"2", "y"}, {"3", "FALSE"}, {"4", "w"}};
    options.inputs = {{"X", *x}, {"y", *y}};
    options.io.write = [](const std::string&, const std::string&) { return Status::Ok(); };
    options.io.check = [&] {
      checks.push_back(Clock::now());
      return Status::Ok();
    };
    Result<script::ScriptReport> report = script::RunScript(*fed, script.str(), options);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
      return -1.0;
    }
    iterations = static_cast<int>(checks.size()) - 1;
    if (checks.size() < 4) return -1.0;
    return std::chrono::duration<double>(checks.back() - checks[1]).count() / static_cast<double>(checks.size() - 2);
  };
  double builtin_s = 1e30, script_s = 1e30;
  for (int rep = 0; rep < 2; ++rep) {
    const double b = builtin(), s = scripted();
    if (b < 0 || s < 0) return 1;
    builtin_s = std::min(builtin_s, b);
    script_s = std::min(script_s, s);
  }
  std::printf("built-in lmCG:            %.4f s per iteration (one batch per site)\n", builtin_s);
  std::printf("lmCG.dml, verbatim:       %.4f s per iteration (%d iterations)   ratio script/built-in %.3f\n", script_s,
              iterations, script_s / builtin_s);
  return 0;
}

// The control program: the language's syntax and local semantics, and scripts over sites run in
// this process — results against the same computation on the pooled data, the batches each site
// sees (counted by the federation, not the compiler), lineage reuse, privacy refusals with the
// script line, and no site variable left behind.
#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>

#include <Eigen/Dense>

#include "master/algorithms/lm.h"
#include "master/script/interpreter.h"
#include "tests/support/in_process_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra::script {
namespace {

using testing::InProcessSites;
using testing::TempDir;

const std::vector<std::string> kSensorColumns = {"pressure", "vibration", "load", "temperature"};

// temperature = 2 pressure - vibration + 0.5 load + noise, columns on different scales.
Matrix Sensors(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x(0, 1), noise(0, 0.1);
  Matrix m(rows, 4);
  for (int i = 0; i < rows; ++i) {
    m(i, 0) = 10 + 3 * x(rng);
    m(i, 1) = 2 * x(rng);
    m(i, 2) = 50 + 20 * x(rng);
    m(i, 3) = 2 * m(i, 0) - m(i, 1) + 0.5 * m(i, 2) + noise(rng);
  }
  return m;
}

// What a script printed and wrote, and the checks it passed.
struct Captured {
  std::vector<std::string> printed;
  std::map<std::string, std::string> written;
  std::vector<std::tuple<std::string, double, int64_t>> metrics;
  int checks = 0;
};

ScriptOptions Capture(Captured* c, std::map<std::string, std::string> args = {}) {
  ScriptOptions o;
  o.args = std::move(args);
  o.io.print = [c](const std::string& line) {
    c->printed.push_back(line);
    return Status::Ok();
  };
  o.io.write = [c](const std::string& target, const std::string& text) {
    c->written[target] = text;
    return Status::Ok();
  };
  o.io.log_metric = [c](const std::string& name, double value, int64_t step) {
    c->metrics.emplace_back(name, value, step);
    return Status::Ok();
  };
  o.io.check = [c] {
    ++c->checks;
    return Status::Ok();
  };
  return o;
}

// A matrix from DML's text format ("row col value" per non-zero cell, 1-based).
Matrix FromIjv(const std::string& text, Eigen::Index rows, Eigen::Index cols) {
  Matrix m = Matrix::Zero(rows, cols);
  std::istringstream in(text);
  for (int i, j; in >> i >> j;) in >> m(i - 1, j - 1);
  return m;
}

std::string ReadAnalysis(const std::string& name) {
  std::ifstream in(std::string(FEDRA_SOURCE_DIR) + "/analyses/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ScriptFixture {
  TempDir dir;
  InProcessSites local{dir.path(), {"a", "b", "c"}};
  Matrix pooled = Sensors(900, 7);
  std::unique_ptr<Federation> fed;

  explicit ScriptFixture(const std::string& privacy = "private-aggregate") {
    local.AddSplitCsvDataset("sensors", pooled, {200, 300, 400}, kSensorColumns, privacy);
    local.StartAll();
    fed = local.Connect();
  }

  Result<ScriptReport> Run(const std::string& source, Captured* c, std::map<std::string, std::string> args = {}) {
    return RunScript(*fed, source, Capture(c, std::move(args)));
  }

  // The message of running `source`, which must fail.
  std::string Error(const std::string& source) {
    Captured c;
    Result<ScriptReport> r = Run(source, &c);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  }

  std::map<std::string, uint64_t> Batches() const {
    std::map<std::string, uint64_t> out;
    for (const std::string& s : fed->site_names()) out[s] = fed->batches_sent(s);
    return out;
  }

  // Variables held at each site, from its catalog answer.
  std::map<std::string, int64_t> Variables() {
    std::map<std::string, int64_t> out;
    SiteResponses r = fed->CallAll({Request::ListCatalog()});
    for (const std::string& s : fed->site_names()) out[s] = r.at(s)->front().meta.value("variables", int64_t{-1});
    return out;
  }
};

double RunNumber(ScriptFixture& f, const std::string& source) {
  Captured c;
  Result<ScriptReport> r = f.Run(source, &c);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(c.printed.size() == 1);
  return std::stod(c.printed[0]);
}

TEST_CASE("syntax errors point at the line and column with a caret") {
  Status s = CheckScript("x = 1\ny = (x + 2\nz = 3\n");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("line 3, column 1") != std::string::npos);
  CHECK(s.message().find("expected ')'") != std::string::npos);
  s = CheckScript("a = 1\nb = a +* 2\n");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("line 2, column 8") != std::string::npos);
  CHECK(s.message().find("\n  b = a +* 2\n         ^") != std::string::npos);
  CHECK_FALSE(CheckScript("x = \"open").ok());
  CHECK_FALSE(CheckScript("if (x) { y = 1").ok());
  CHECK(
      CheckScript("f = function(Matrix[Double] X, Double l = 0.5) return (Matrix[Double] w) {\n  w = X * l\n}\n").ok());
}

TEST_CASE("operators bind as in R") {
  ScriptFixture f;
  CHECK(RunNumber(f, "print(-2^2)") == -4);
  CHECK(RunNumber(f, "print(2^3^2)") == 512);
  CHECK(RunNumber(f, "print(sum(1:3 * 2))") == 12);  // (1:3) * 2
  CHECK(RunNumber(f, "print(1 + 2 * 3 - 4 / 2)") == 5);
  CHECK(RunNumber(f, "print(7 %% 3 + 7 %/% 3)") == 3);
  CHECK(RunNumber(f, "print(-7 %% 3)") == 2);  // R's sign of the divisor
  CHECK(RunNumber(f, "A = matrix(\"1 2 3 4\", rows=2, cols=2)\nprint(as.scalar((A %*% A * 2)[1, 2]))") == 20);
  CHECK(RunNumber(f, "x = 3\nprint(ifelse(x > 2 & !(x == 5) | FALSE, 1, 0))") == 1);
}

TEST_CASE("control flow, functions and local builtins") {
  ScriptFixture f;
  const std::string source = R"(
    # a user function with two results and a default
    stats = function(Matrix[Double] v, Double scale = 1) return (Double total, Double biggest) {
      total = sum(v) * scale
      biggest = max(v)
    }
    s = 0
    for (i in 1:10) {
      if (i %% 2 == 0) { s = s + i } else s = s - 1
    }
    k = 0
    while (k < 3) k = k + 1
    [t1, b1] = stats(seq(1, 4), scale = 2)
    A = matrix("4 1 1 3", rows = 2, cols = 2)
    x = solve(A, matrix("1 2", rows = 2, cols = 1))
    [vals, vecs] = eigen(A)
    B = rbind(cbind(diag(matrix(1, 2, 1)), x), matrix(7, 1, 3))
    B[1, 1] = 9
    print(s)
    print(k)
    print(t1 + b1)
    print(toString(round(x * 11)))
    print(B[3, 2] + B[1, 1] + ncol(B) + sum(vals))
    log_metric("loss", 0.5)
    log_metric("loss", 0.25)
  )";
  Captured c;
  Result<ScriptReport> r = f.Run(source, &c);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(c.printed.size() == 5);
  CHECK(c.printed[0] == "25");  // 2+4+6+8+10 - 5
  CHECK(c.printed[1] == "3");
  CHECK(c.printed[2] == "24");    // 10 * 2 + 4
  CHECK(c.printed[3] == "1\n7");  // solve: x = (1/11, 7/11)
  CHECK(c.printed[4] == "26");    // 7 + 9 + 3 + trace 7
  REQUIRE(c.metrics.size() == 2);
  CHECK(std::get<2>(c.metrics[1]) == 1);
  CHECK(r->batches == 0);
}

TEST_CASE("errors name the function, the arguments and the line") {
  ScriptFixture f;
  CHECK(f.Error("x = 1\ny = frobnicate(x)").find("line 2: unknown function 'frobnicate'") != std::string::npos);
  CHECK(f.Error("x = nrow(1, 2)").find("'nrow' takes at most 1 argument") != std::string::npos);
  CHECK(f.Error("x = matrix(1, rows = 2)").find("'matrix' needs its argument 'cols'") != std::string::npos);
  CHECK(f.Error("x = 1\n\nprint(y)").find("line 3: 'y' is not defined") != std::string::npos);
  CHECK(f.Error("x = matrix(1, 2, 3) + matrix(1, 3, 2)").find("shapes differ") != std::string::npos);
  CHECK(f.Error("x = $1").find("$1 is not given") != std::string::npos);
  CHECK(f.Error("stop(\"no convergence\")").find("stop: no convergence") != std::string::npos);
  CHECK(f.Error("f = function(n) return (r) { r = f(n) }\nx = f(1)").find("deeper than") != std::string::npos);
  // The master's memory is not the script's to exhaust.
  CHECK(f.Error("v = seq(1, 20000)\nm = v %*% t(v)").find("more than the 16777216") != std::string::npos);
  CHECK(f.Error("x = diag(matrix(1, 100000, 1))").find("line 1: diag: 10000000000 cells") != std::string::npos);
}

TEST_CASE("scripts that would exhaust the master get errors, and long chains still run") {
  std::string deep = "x = 1";
  for (int i = 0; i < 2000; ++i) deep += " + 1";
  Status s = CheckScript(deep);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("nested more than 1000 operations deep") != std::string::npos);
  std::string nested;
  for (int i = 0; i < 300; ++i) nested += "if (TRUE) ";
  CHECK(CheckScript(nested + "x = 1").message().find("nested more than 200") != std::string::npos);

  ScriptFixture f;
  CHECK(f.Error("a = matrix(1, 1, 4096)\nfor (i in 1:20) a = cbind(a, a)").find("cbind: ") != std::string::npos);
  CHECK(f.Error("s = \"x\"\nfor (i in 1:40) s = s + s").find("longer than the 16777216") != std::string::npos);
  CHECK(f.Error("X = read(\"sensors\")\nm = colMeans(X)\nq = m %*% X").find("t(t(X) %*% t(V))") != std::string::npos);
  CHECK(f.Error("X = read(\"sensors\")\nG = t(X) %*% X\nprint(sum(G))\nq = G %*% X").find("t(t(X) %*% t(V))") !=
        std::string::npos);
  CHECK(f.Error("x = rand(2, 2, min = 1, max = 0)").find("min must not be above max") != std::string::npos);
  CHECK(f.Error("log_metric(\"m\", 1, -3)").find("step must be a whole number") != std::string::npos);

  // A value that waits on the sites, changed a hundred thousand times, and a federated step
  // chained two hundred times: computed in bounded chains, and right.
  Captured c;
  Result<ScriptReport> r = f.Run(R"(
      X = read("sensors:pressure")
      s = sum(X)
      for (i in 1:100000) s = s + 1
      Y = X
      for (i in 1:200) Y = Y + 1
      print(s - sum(X))
      print(sum(Y) - sum(X))
  )",
                                 &c);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(c.printed.size() == 2);
  CHECK(std::stod(c.printed[0]) == doctest::Approx(100000).epsilon(1e-9));
  CHECK(std::stod(c.printed[1]) == doctest::Approx(200.0 * 900).epsilon(1e-9));
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
}

TEST_CASE("the lecture's lmCG runs verbatim at one batch per site per iteration") {
  ScriptFixture f;
  const std::string script = ReadAnalysis("lmCG.dml");
  REQUIRE_FALSE(script.empty());
  const auto before = f.Batches();
  Captured c;
  Result<ScriptReport> r = f.Run(
      script, &c, {{"1", "sensors:pressure,vibration,load"}, {"2", "sensors:temperature"}, {"3", "FALSE"}, {"4", "w"}});
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  const Matrix w = FromIjv(c.written.at("w"), 3, 1);

  // The same ridge system on the pooled rows, solved directly.
  const Matrix x = f.pooled.leftCols(3);
  const Eigen::VectorXd y = f.pooled.col(3);
  const Matrix a = x.transpose() * x + 0.001 * Matrix::Identity(3, 3);
  const Eigen::VectorXd expected = a.ldlt().solve(x.transpose() * y);
  for (int j = 0; j < 3; ++j) CHECK(w(j, 0) == doctest::Approx(expected(j)).epsilon(1e-8));

  // The loop's condition is checked once per iteration and once to leave; each site saw two
  // reads, the setup's t(X) %*% y, one batch per iteration and the final clearing.
  const int iterations = c.checks - 1;
  CHECK(iterations >= 3);
  CHECK(r->batches == 1 + iterations);
  // Fused: one instruction per site per batch (t(X) %*% y, then t(X) %*% (X %*% p)).
  CHECK(r->instructions == 3 * r->batches);
  for (const auto& [site, n] : f.Batches()) CHECK(n - before.at(site) == 2 + 1 + iterations + 1);
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});

  // And the built-in lm on the same federation (no intercept, the same penalty).
  Result<FederatedMatrix> data = FederatedMatrix::Read(*f.fed, "sensors");
  REQUIRE(data.ok());
  LmOptions options;
  options.intercept = false;
  options.lambda = 0.001;
  Result<LmModel> builtin = FitLm(*f.fed, *data, {0, 1, 2}, 3, options);
  REQUIRE(builtin.ok());
  for (int j = 0; j < 3; ++j) CHECK(w(j, 0) == doctest::Approx(builtin->coefficients(j)).epsilon(1e-6));
}

TEST_CASE("independent federated work shares one batch, and a lineage computed once is reused") {
  ScriptFixture f;
  const Matrix x = f.pooled.leftCols(3);
  Captured c;
  // Four aggregates and two row-level steps, none waiting on the master: one batch.
  Result<ScriptReport> r = f.Run(R"(
      X = read("sensors:pressure,vibration,load")
      y = read("sensors:temperature")
      G = t(X) %*% X
      s = colSums(X ^ 2)
      m = colMeans(X)
      v = t(X) %*% (y * (X %*% matrix(1, 3, 1)))
      print(sum(G) + sum(s) + sum(m) + sum(v) + sum(X * X))
      G2 = t(X) %*% X
      print(sum(G2))
  )",
                                 &c);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->batches == 1);
  CHECK(r->reused >= 1);
  const Eigen::VectorXd yv = f.pooled.col(3);
  const double expected = (x.transpose() * x).sum() + x.array().square().sum() + x.colwise().mean().sum() +
                          (x.transpose() * (yv.cwiseProduct(x * Eigen::Vector3d::Ones()))).sum() +
                          x.array().square().sum();
  REQUIRE(c.printed.size() == 2);
  CHECK(std::stod(c.printed[0]) == doctest::Approx(expected).epsilon(1e-12));
  CHECK(std::stod(c.printed[1]) == doctest::Approx((x.transpose() * x).sum()).epsilon(1e-12));
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
}

TEST_CASE("each fusion, and each near miss, computes what the pooled data gives") {
  ScriptFixture f("public");
  const Matrix x = f.pooled.leftCols(3);
  const Eigen::VectorXd y = f.pooled.col(3);
  Matrix v(3, 1), v2(3, 2);
  v << 0.5, -1, 2;
  v2 << 0.5, 1, -1, 0, 2, 0.25;
  struct Case {
    std::string expression;
    Matrix expected;
    int64_t instructions;  // per site
  };
  const std::vector<Case> cases = {
      {"t(X) %*% X", x.transpose() * x, 1},
      {"t(X) %*% X %*% v", x.transpose() * x * v, 1},
      {"t(X) %*% (X %*% V)", x.transpose() * (x * v2), 1},
      {"t(X) %*% (y * (X %*% v))", x.transpose() * y.asDiagonal() * (x * v), 1},
      {"t(X) %*% ((X %*% V) * y)", x.transpose() * y.asDiagonal() * (x * v2), 1},
      {"t(X) %*% y", x.transpose() * y, 1},
      {"sum(X ^ 2) + sum(X * X)", Matrix::Constant(1, 1, 2 * x.array().square().sum()), 1},
      {"colSums(X ^ 2)", x.array().square().colwise().sum().matrix(), 1},
      {"sum(rowSums(X ^ 2))", Matrix::Constant(1, 1, x.array().square().sum()), 2},
      // Near misses: another operation, another matrix, a reversed one; each still right.
      {"t(X) %*% ((X %*% v) / y)", x.transpose() * (x * v).cwiseQuotient(y), 3},
      {"t(X) %*% ((X * 2) %*% v)", x.transpose() * (2 * x * v), 3},
      {"t(X) %*% (1 - y)", x.transpose() * (1 - y.array()).matrix(), 2},
      {"t(X) %*% (X * y)", x.transpose() * y.asDiagonal() * x, 2},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expression);
    Captured out;
    Result<ScriptReport> r = f.Run(
        "X = read(\"sensors:pressure,vibration,load\")\ny = read(\"sensors:temperature\")\n"
        "v = matrix(\"0.5 -1 2\", rows = 3, cols = 1)\nV = matrix(\"0.5 1 -1 0 2 0.25\", rows = 3, cols = 2)\n"
        "write(" +
            c.expression + ", \"r\", format = \"json\")\n",
        &out);
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    nlohmann::json got = nlohmann::json::parse(out.written.at("r"));
    if (got.is_number()) got = nlohmann::json::array({nlohmann::json::array({got})});  // a scalar
    REQUIRE(got.size() == static_cast<size_t>(c.expected.rows()));
    for (Eigen::Index i = 0; i < c.expected.rows(); ++i) {
      for (Eigen::Index j = 0; j < c.expected.cols(); ++j) {
        CHECK(got[i][j].get<double>() == doctest::Approx(c.expected(i, j)).epsilon(1e-10));
      }
    }
    CHECK(r->batches == 1);
    CHECK(r->instructions == 3 * c.instructions);
  }
}

TEST_CASE("row-level results stay at the sites and feed later steps") {
  ScriptFixture f("public");  // minima, maxima and abs need rows that may be looked at
  Captured c;
  Result<ScriptReport> r = f.Run(R"(
      X = read("sensors")
      Z = (X[, 1:3] - colMeans(X[, 1:3])) / sqrt(colVars(X[, 1:3]))
      print(toString(round(colSums(Z ^ 2))))
      print(max(abs(X[, 2])) + min(X[, 3]) + nrow(Z))
      # Local values with a row per row go to each site by its rows.
      ones = matrix(1, nrow(X), 1)
      print(sum(t(X[, 1:3]) %*% ones) - sum(X[, 1] * seq(1, nrow(X))))
  )",
                                 &c);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(c.printed.size() == 3);
  const Eigen::VectorXd index = Eigen::VectorXd::LinSpaced(900, 1, 900);
  CHECK(std::stod(c.printed[2]) ==
        doctest::Approx(f.pooled.leftCols(3).sum() - f.pooled.col(0).dot(index)).epsilon(1e-12));
  CHECK(c.printed[0] == "899 899 899");  // n - 1 for standardised columns
  const double expected = f.pooled.col(1).cwiseAbs().maxCoeff() + f.pooled.col(2).minCoeff() + 900;
  CHECK(std::stod(c.printed[1]) == doctest::Approx(expected).epsilon(1e-12));
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
}

TEST_CASE("a federated value is released after the last statement that reads it") {
  ScriptFixture f;
  Captured c;
  ScriptOptions o = Capture(&c);
  // What each site holds whenever the script prints.
  std::vector<std::map<std::string, int64_t>> held;
  o.io.print = [&](const std::string& line) {
    c.printed.push_back(line);
    held.push_back(f.Variables());
    return Status::Ok();
  };
  Result<ScriptReport> r = RunScript(*f.fed, R"(
      X = read("sensors")
      Z = X * 2
      W = X * 3
      print(sum(Z) + sum(W))
      V = X[, 1:2]
      i = 0
      while (i < 2) {
        print(sum(V) * i)
        i = i + 1
      }
      print(sum(X))
  )",
                                     o);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  REQUIRE(held.size() == 4);
  const auto each = [](int64_t n) { return std::map<std::string, int64_t>{{"a", n}, {"b", n}, {"c", n}}; };
  // X, Z and W were made for the first print, the last statement that reads Z and W: they are
  // cleared with the next batch, which makes V.
  CHECK(held[0] == each(3));
  // V is read again at every iteration, and X at the end.
  CHECK(held[1] == each(2));
  CHECK(held[2] == each(2));
  CHECK(held[3] == each(1));
  CHECK(std::stod(c.printed[3]) == doctest::Approx(f.pooled.sum()).epsilon(1e-12));
}

TEST_CASE("a site's refusal fails the script with its reason and the line; nothing stays behind") {
  ScriptFixture f("private");
  const auto before = f.Batches();
  Captured c;
  Result<ScriptReport> r = f.Run("X = read(\"sensors\")\n\nZ = X * 2\ns = sum(Z)\nprint(s)\n", &c);
  REQUIRE_FALSE(r.ok());
  // The step that was refused is the product, on line 3, sent when line 5 needed s.
  INFO(r.status().message());
  CHECK(r.status().message().rfind("line 3: X * Y: site '", 0) == 0);
  CHECK(r.status().message().find("is private: mul cannot run on it") != std::string::npos);
  CHECK(r.status().message().find("\n  Z = X * 2") != std::string::npos);
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
  // The catalogs and the read, the batch that was refused, the clearing, and the catalogs again.
  for (const auto& [site, n] : f.Batches()) CHECK(n - before.at(site) == 2 + 1 + 1 + 1);
}

TEST_CASE("a site that restarts mid-script gets its variables back, intermediates included") {
  ScriptFixture f;
  Captured c;
  ScriptOptions o = Capture(&c);
  // Site b restarts (losing its variables) when the loop starts its second iteration.
  int loops = 0;
  o.io.check = [&] {
    if (++loops == 2) {
      f.local.Stop("b");
      f.local.Start("b");
    }
    return Status::Ok();
  };
  Result<ScriptReport> r = RunScript(*f.fed, R"(
      X = read("sensors")
      Z = X[, 1:3] * 2
      print(sum(colSums(Z)))
      for (i in 1:2) {
        s = colSums(Z * i)
        print(sum(s))
      }
  )",
                                     o);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(f.fed->restarts("b") == 1);
  const Eigen::RowVectorXd sums = 2 * f.pooled.leftCols(3).colwise().sum();
  REQUIRE(c.printed.size() == 3);
  CHECK(std::stod(c.printed[0]) == doctest::Approx(sums.sum()).epsilon(1e-12));
  CHECK(std::stod(c.printed[2]) == doctest::Approx(2 * sums.sum()).epsilon(1e-12));
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
}

TEST_CASE("shape mismatches with federated matrices are caught before anything is sent") {
  ScriptFixture f;
  Captured c;
  Result<ScriptReport> r = f.Run("X = read(\"sensors\")\nv = matrix(1, 5, 1)\nq = X %*% v\nprint(sum(q))", &c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().rfind("line 3: %*%: the federated matrix is 900x4 and the right side 5x1", 0) == 0);
  r = f.Run("X = read(\"sensors\")\nprint(X[1, 2])", &c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("stay at the sites") != std::string::npos);
  r = f.Run("X = read(\"sensors\")\nwrite(X, \"out\")", &c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("cannot be written") != std::string::npos);
  CHECK(f.Variables() == std::map<std::string, int64_t>{{"a", 0}, {"b", 0}, {"c", 0}});
}

}  // namespace
}  // namespace fedra::script

// Secure aggregation against the plain aggregation it replaces, in the same run, over four real
// fedra-site processes and mutual TLS on loopback:
//   - a model update of 1M parameters from each site: the plain round gets each site's vector
//     and adds them; the secure round is the four-phase secure sum (keys, shares, masks, unmask);
//   - colSums(X) and t(X) %*% X of a 4 x 50,000-row, 20-column dataset: public (plain sums) and
//     secure-aggregate (secure sums), the same rows.
// Times are the median of 5 runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "master/federation/secure_sum.h"
#include "master/tensor/federated_matrix.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(F&& run) {
  std::vector<double> times;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[2];
}

void Check(const fedra::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main() {
  using namespace fedra;
  const std::vector<std::string> sites = {"a", "b", "c", "d"};
  testing::TempDir dir("fedra-bench");
  testing::LocalFederation local(dir.path(), sites);
  constexpr int kRows = 50000, kCols = 20;
  std::vector<std::string> columns;
  for (int j = 0; j < kCols; ++j) columns.push_back("x" + std::to_string(j));
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(10, 3);
  for (const std::string& site : sites) {
    Matrix m(kRows, kCols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    local.AddCsvDataset(site, "plain", m, columns, "public");
    local.AddCsvDataset(site, "secure", m, columns, "secure-aggregate");
  }
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(120));

  constexpr Eigen::Index kParams = 1000000;
  std::map<std::string, VarId> updates;
  SiteRequests put;
  for (const std::string& site : sites) {
    updates[site] = fed->NewVarId();
    Matrix u(kParams, 1);
    for (Eigen::Index i = 0; i < kParams; ++i) u(i) = normal(rng) * 1e-3;
    put[site] = {Request::Put(updates[site], u)};
  }
  Check(FirstError(fed->Call(put)));

  Matrix plain_sum, secure_sum;
  const double plain = MedianSeconds([&] {
    SiteRequests get;
    for (const std::string& site : sites) get[site] = {Request::Get(updates[site])};
    SiteResponses answers = fed->Call(get);
    Check(FirstError(answers));
    plain_sum = Matrix::Zero(kParams, 1);
    for (const std::string& site : sites) plain_sum += *answers.at(site)->at(0).value;
  });
  double resolution = 0;
  const double secure = MedianSeconds([&] {
    Result<SecureSumResult> sum = SecureSum(*fed, updates);
    Check(sum.status());
    secure_sum = std::move(sum->sum);
    resolution = sum->resolution;
  });
  std::printf(
      "update of %lld parameters from 4 sites:  plain %.3f s   secure sum %.3f s   ratio %.2fx"
      "   (largest difference %.2e, stated resolution %.2e)\n",
      static_cast<long long>(kParams), plain, secure, secure / plain, (plain_sum - secure_sum).cwiseAbs().maxCoeff(),
      resolution);

  Result<FederatedMatrix> x_plain = FederatedMatrix::Read(*fed, "plain");
  Result<FederatedMatrix> x_secure = FederatedMatrix::Read(*fed, "secure");
  Check(x_plain.status());
  Check(x_secure.status());
  for (const auto& [name, op] : {std::pair{"colSums(X)", Op::kColSums}, std::pair{"t(X) %*% X", Op::kTsmm}}) {
    Matrix a, b;
    const double t_plain = MedianSeconds([&] {
      auto s = x_plain->SumOverParts(*fed, {FederatedMatrix::PartOp{op}});
      Check(s.status());
      a = (*s)[0];
    });
    const double t_secure = MedianSeconds([&] {
      auto s = x_secure->SumOverParts(*fed, {FederatedMatrix::PartOp{op}});
      Check(s.status());
      b = (*s)[0];
    });
    std::printf(
        "%-11s of 4 x %d rows x %d columns:  plain %.4f s   secure %.4f s   ratio %.2fx   (largest relative "
        "difference %.1e)\n",
        name, kRows, kCols, t_plain, t_secure, t_secure / t_plain,
        ((a - b).cwiseAbs().array() / a.cwiseAbs().array().max(1.0)).maxCoeff());
  }
  return 0;
}

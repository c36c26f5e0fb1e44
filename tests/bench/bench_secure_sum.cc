// Secure aggregation against the plain aggregation it replaces, in the same run, over four real
// fedra-site processes and mutual TLS on loopback:
//   - a model update of 1M parameters from each site: the plain round gets each site's vector
//     and adds them; the secure round is the four-phase secure sum (keys, shares, masks, unmask);
//   - colSums(X) and t(X) %*% X of a 4 x 50,000-row, 20-column dataset: public (plain sums) and
//     secure-aggregate (secure sums), the same rows;
//   - first, before the sites start: one site's masks for that sum (its self mask and three
//     pairwise masks over 1M 32-bit words) on one core, and on all of the machine's cores.
// Times are the median of 5 runs (of 51 for the masks alone).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "federated/secure_sum_crypto.h"
#include "master/federation/secure_sum.h"
#include "master/tensor/federated_matrix.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(F&& run, int reps = 5) {
  std::vector<double> times;
  for (int rep = 0; rep < reps; ++rep) {
    const auto start = Clock::now();
    run();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
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
  constexpr Eigen::Index kParams = 1000000;
  {
    std::vector<uint32_t> words(kParams, 0);
    std::vector<Mask> masks;
    for (int k = 0; k < 4; ++k) {
      Result<Secret32> seed = RandomSecret();
      Check(seed.status());
      masks.push_back({*seed, k % 2 == 1});
    }
    // Milliseconds each: the median of many, as a virtual machine's cores come and go.
    const double one_core = MedianSeconds(
        [&] {
          Result<MaskStreams> streams = MaskStreams::Start(masks);
          Check(streams.status());
          Check(streams->Apply(std::span<uint32_t>(words)));
        },
        51);
    const double all_cores = MedianSeconds([&] { Check(ApplyMasks(masks, std::span<uint32_t>(words))); }, 51);
    std::printf("4 masks on %lld 32-bit words (16 MB of AES-CTR): one core %.1f ms, %u cores %.1f ms, %.2fx faster\n",
                static_cast<long long>(kParams), 1000 * one_core, std::max(1u, std::thread::hardware_concurrency()),
                1000 * all_cores, one_core / all_cores);
  }
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

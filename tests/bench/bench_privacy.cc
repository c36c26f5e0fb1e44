// bench_privacy: what a site's privacy rules cost. The same site executor runs the same requests
// on the same 200,000 x 20 table served as public, private-aggregate (effective support, cells)
// and dp-aggregate (bounds, noise, a ledger write per release), and prints each against public,
// the baseline, in the same run: median of 5 after a warm-up. The first k-means step on
// private-aggregate data also groups the rows into cells; that one-off cost is printed apart.
//
//   bench_privacy
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "federated/instruction.h"
#include "site-agent/executor.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

constexpr int kRows = 200000;
constexpr int kColumns = 20;

struct Site {
  testing::TempDir dir{"fedra-bench-privacy"};
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<SymbolTable> symbols = std::make_unique<SymbolTable>(uint64_t{8} << 30);
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<PrivacyLedger> ledger;
  std::unique_ptr<Executor> executor;
  PeerIdentity master{"master", "m", "bench"};
  VarId next = 1;

  Site() {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> value(0, 1);
    std::string csv;
    for (int j = 0; j < kColumns; ++j) csv += (j ? ",c" : "c") + std::to_string(j);
    csv += '\n';
    char number[32];
    for (int i = 0; i < kRows; ++i) {
      for (int j = 0; j < kColumns; ++j) {
        std::snprintf(number, sizeof number, j ? ",%.6f" : "%.6f", value(rng));
        csv += number;
      }
      csv += '\n';
    }
    testing::WriteFile(dir / "t.csv", csv);
    std::map<std::string, DatasetSpec> specs;
    for (PrivacyLevel level : {PrivacyLevel::kPublic, PrivacyLevel::kPrivateAggregate, PrivacyLevel::kDpAggregate}) {
      DatasetSpec spec;
      spec.name = std::string(PrivacyLevelName(level));
      spec.path = dir / "t.csv";
      spec.privacy = level;
      spec.dp.epsilon = 1e6;
      spec.dp.noise_multiplier = 1;
      spec.dp.bounds["*"] = {-6, 6};
      specs[spec.name] = spec;
    }
    catalog = std::make_unique<Catalog>(specs);
    catalog->Probe();
    audit = std::move(AuditLog::Open(dir / "audit.jsonl")).value();
    ledger = std::move(PrivacyLedger::Open(dir / "ledger.json")).value();
    executor =
        std::make_unique<Executor>("bench", SiteLimits{}, catalog.get(), symbols.get(), audit.get(), ledger.get());
  }

  Response Run(Request q) {
    Response r = executor->Execute(RequestBatch{next++, {std::move(q)}}, master).responses.at(0);
    if (r.held_value) r.value = *std::exchange(r.held_value, nullptr);
    return r;
  }
};

double Seconds(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> times;
  for (int r = 0; r < 5; ++r) times.push_back(Seconds(f));
  std::sort(times.begin(), times.end());
  return times[2];
}

}  // namespace
}  // namespace fedra

int main() {
  using namespace fedra;
  std::printf("bench_privacy: %d x %d rows at one site executor, median of 5\n", kRows, kColumns);
  Site site;
  const std::vector<std::string> levels = {"public", "private-aggregate", "dp-aggregate"};
  std::map<std::string, VarId> data;
  for (const std::string& level : levels) {
    data[level] = site.next++;
    if (!site.Run(Request::Read(data[level], level)).status.ok()) return 1;
  }
  const VarId v = site.next++, centres = site.next++;
  site.Run(Request::Put(v, Matrix::Ones(kColumns, 1)));
  site.Run(Request::Put(centres, Matrix::Random(10, kColumns)));
  const VarId cells_var = data["private-aggregate"];
  const double cells = Seconds([&] {
    site.Run(Request::Run(0, KMeansStepParams{.k = 10}, {cells_var, centres}, true));
  });

  struct Case {
    const char* name;
    std::function<Request(VarId)> request;
  };
  const std::vector<Case> cases = {
      {"colSums", [](VarId x) { return Request::Run(0, Op::kColSums, {x}, true); }},
      {"t(X) %*% X", [](VarId x) { return Request::Run(0, Op::kTsmm, {x}, true); }},
      {"t(X) %*% (X %*% v)",
       [&](VarId x) {
         return Request::Run(0, Op::kTsmv, {x, v}, true);
       }},
      {"kmeansStep, k = 10",
       [&](VarId x) {
         return Request::Run(0, KMeansStepParams{.k = 10}, {x, centres}, true);
       }},
  };
  std::printf("%-22s %12s %26s %26s\n", "operation", "public ms", "private-aggregate ms", "dp-aggregate ms");
  for (const Case& c : cases) {
    std::map<std::string, double> ms;
    std::map<std::string, bool> ok;
    for (const std::string& level : levels) {
      Response last;
      ms[level] = 1000 * Median([&] { last = site.Run(c.request(data[level])); });
      ok[level] = last.status.ok();
    }
    auto cell = [&](const std::string& level) {
      if (!ok[level]) return std::string("refused");
      char text[64];
      std::snprintf(text, sizeof text, "%.2f (%.2fx)", ms[level], ms[level] / ms["public"]);
      return std::string(text);
    };
    std::printf("%-22s %12.2f %26s %26s\n", c.name, ms["public"], cell("private-aggregate").c_str(),
                cell("dp-aggregate").c_str());
  }
  std::printf("the first k-means step on private-aggregate data, which also groups the %d rows into cells: %.1f ms\n",
              kRows, 1000 * cells);
  return 0;
}

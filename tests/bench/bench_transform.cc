// bench_transform: what a site spends to read a raw table through a fitted transform, against
// reading the same numbers already clean with the parallel numeric reader.
//
//   bench_transform [rows]
//
// Writes a CSV of `rows` rows (default 1,000,000): eight numeric columns, one of them with 2%
// missing cells, and two text columns of 5 and 20 categories. Then times, best of 3 each, at one
// site's catalog: the baseline, Catalog::Load of the seven complete numeric columns (all threads);
// the fit's pass, Catalog::Describe (category counts and moments); and Catalog::LoadEncoded of all
// ten columns, dummy-coded and imputed (31 output columns). Prints MB/s and the ratios, checks the
// encoded matrix against the plain one, and removes the file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "federated/transform.h"
#include "site-agent/catalog.h"

namespace fedra {
namespace {

constexpr int kNumeric = 8;

double BestOf3(const std::function<void()>& run) {
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

void WriteTable(const std::filesystem::path& path, long rows) {
  std::ofstream out(path);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(0, 1000);
  std::uniform_int_distribution<int> small(0, 4), large(0, 19), percent(0, 99);
  for (int j = 0; j < kNumeric; ++j) out << "x" << j << ",";
  out << "plant,supplier\n";
  char cell[32];
  for (long i = 0; i < rows; ++i) {
    for (int j = 0; j < kNumeric; ++j) {
      if (j == kNumeric - 1 && percent(rng) < 2) {
        out << "NA,";
        continue;
      }
      std::snprintf(cell, sizeof cell, "%.3f,", value(rng));
      out << cell;
    }
    out << "plant" << small(rng) << ",supplier" << large(rng) << "\n";
  }
}

int Main(long rows) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "fedra-bench-transform.csv";
  WriteTable(path, rows);
  const double mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  DatasetSpec spec;
  spec.name = "t";
  spec.path = path;
  spec.privacy = PrivacyLevel::kPublic;
  Catalog catalog({{"t", spec}});
  catalog.Probe();

  std::vector<std::string> clean, all;
  for (int j = 0; j < kNumeric; ++j) all.push_back("x" + std::to_string(j));
  clean.assign(all.begin(), all.end() - 1);
  all.push_back("plant");
  all.push_back("supplier");

  Matrix plain;
  const double load = BestOf3([&] {
    Result<CsvTable> t = catalog.Load(spec, clean, nullptr);
    if (!t.ok()) throw std::runtime_error(t.status().ToString());
    plain = std::move(t->values);
  });

  nlohmann::json queries = {{"plant", {{"levels", true}}}, {"supplier", {{"levels", true}}}};
  for (const std::string& c : clean) queries[c] = {{"moments", true}};
  queries["x7"] = {{"moments", true}};
  const double describe = BestOf3([&] {
    Result<nlohmann::json> d = catalog.Describe(spec, queries, 10);
    if (!d.ok()) throw std::runtime_error(d.status().ToString());
  });

  Result<Transform> transform =
      Transform::Parse({{"x7", {{"impute", {{"value", 500}}}}}}, all, {"plant", "supplier"}, "t");
  if (!transform.ok()) throw std::runtime_error(transform.status().ToString());
  for (int k = 0; k < 5; ++k) transform->columns[kNumeric].levels.push_back("plant" + std::to_string(k));
  for (int k = 0; k < 20; ++k) transform->columns[kNumeric + 1].levels.push_back("supplier" + std::to_string(k));
  SortLevels(&transform->columns[kNumeric + 1].levels);
  const nlohmann::json fitted = transform->ToJson();
  Matrix encoded;
  const double load_encoded = BestOf3([&] {
    Result<CsvTable> t = catalog.LoadEncoded(spec, all, fitted, nullptr);
    if (!t.ok()) throw std::runtime_error(t.status().ToString());
    encoded = std::move(t->values);
  });
  std::filesystem::remove(path);

  const double diff = (encoded.leftCols(kNumeric - 1) - plain).cwiseAbs().maxCoeff();
  std::printf("raw table: %ld rows, %.0f MB, %d numeric columns (one with 2%% missing) and 2 text columns\n", rows, mb,
              kNumeric);
  std::printf("baseline  Catalog::Load, 7 clean numeric columns (parallel reader): %.3f s  %.0f MB/s\n", load,
              mb / load);
  std::printf(
      "fit pass  Catalog::Describe, counts of 25 categories and 8 columns' moments: %.3f s  %.0f MB/s  (%.2fx "
      "the baseline's time)\n",
      describe, mb / describe, describe / load);
  std::printf(
      "encoded   Catalog::LoadEncoded, 10 columns -> %ld x %ld (dummy-coded, imputed): %.3f s  %.0f MB/s  "
      "(%.2fx the baseline's time)\n",
      static_cast<long>(encoded.rows()), static_cast<long>(encoded.cols()), load_encoded, mb / load_encoded,
      load_encoded / load);
  std::printf("check: encoded numeric columns equal the plain read (largest difference %.1e)\n", diff);
  return diff == 0 ? 0 : 1;
}

}  // namespace
}  // namespace fedra

int main(int argc, char** argv) {
  try {
    return fedra::Main(argc > 1 ? std::atol(argv[1]) : 1'000'000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_transform: %s\n", e.what());
    return 1;
  }
}

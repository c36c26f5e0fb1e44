// bench_csv: ingest speed of fedra::ReadCsvFile against a sequential std::strtod baseline.
//
//   bench_csv [path]
//
// Writes a ~200 MB CSV of random doubles (20 columns, "%.6f"-like text, with a header) to `path`
// (default: a file in the temp directory), then times, best of 3 each: ReadCsvFile with all
// threads and with one, ProbeCsvFile, and in the same run the baseline, a single-threaded
// read-then-strtod parse of the same file. Prints the figures and the ratio, checks that both
// parses agree, and removes the file it wrote; an existing `path` is read as is and kept.
// MB = 10^6 bytes.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/csv_reader.h"

namespace {

constexpr size_t kColumns = 20;
constexpr size_t kTargetBytes = 200'000'000;

bool WriteRandomCsv(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> value(-1000.0, 1000.0);
  std::string buffer;
  for (size_t c = 0; c < kColumns; ++c) buffer += (c ? ",x" : "x") + std::to_string(c);
  buffer += '\n';
  size_t written = 0;
  char number[64];
  while (written + buffer.size() < kTargetBytes) {
    for (size_t c = 0; c < kColumns; ++c) {
      auto r = std::to_chars(number, number + sizeof number, value(rng), std::chars_format::fixed, 6);
      buffer.append(number, r.ptr);
      buffer += c + 1 < kColumns ? ',' : '\n';
    }
    if (buffer.size() > (1 << 20)) {
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      written += buffer.size();
      buffer.clear();
    }
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  return static_cast<bool>(out);
}

// The baseline: read the whole file, then one thread, line by line, std::strtod per cell.
bool StrtodParse(const std::string& path, std::vector<double>* values, size_t* rows) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  values->clear();
  *rows = 0;
  const char* p = text.c_str();
  const char* end = p + text.size();
  while (p < end && *p != '\n') ++p;  // header
  while (p < end) {
    ++p;
    if (p >= end) break;
    for (size_t c = 0; c < kColumns; ++c) {
      char* next;
      values->push_back(std::strtod(p, &next));
      if (next == p) return false;
      p = next + 1;  // the delimiter or '\n'
    }
    --p;
    ++*rows;
  }
  return true;
}

template <typename Fn>
double BestSeconds(int runs, Fn fn) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (!fn()) return -1;
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

int Run(const std::string& path, bool generate) {
  if (generate) {
    std::printf("writing %s ...\n", path.c_str());
    if (!WriteRandomCsv(path)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  const double mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  std::printf("file: %s, %.1f MB, %u hardware threads\n", path.c_str(), mb, std::thread::hardware_concurrency());

  fedra::CsvTable table;
  auto read = [&](unsigned threads) {
    fedra::CsvOptions options;
    options.threads = threads;
    auto result = fedra::ReadCsvFile(path, options);
    if (!result.ok()) {
      std::fprintf(stderr, "ReadCsvFile: %s\n", result.status().ToString().c_str());
      return false;
    }
    table = std::move(result).value();
    return true;
  };
  const double fedra_s = BestSeconds(3, [&] { return read(0); });
  if (fedra_s < 0) return 1;
  const double fedra_1t_s = BestSeconds(3, [&] { return read(1); });
  const double probe_s = BestSeconds(3, [&] { return fedra::ProbeCsvFile(path, {}).ok(); });

  std::vector<double> baseline;
  size_t baseline_rows = 0;
  const double strtod_s = BestSeconds(3, [&] { return StrtodParse(path, &baseline, &baseline_rows); });
  if (strtod_s < 0) {
    std::fprintf(stderr, "baseline parse failed\n");
    return 1;
  }

  bool agree =
      baseline_rows == static_cast<size_t>(table.values.rows()) && static_cast<size_t>(table.values.cols()) == kColumns;
  for (size_t r = 0; agree && r < baseline_rows; ++r) {
    for (size_t c = 0; c < kColumns; ++c) {
      agree = agree &&
              baseline[r * kColumns + c] == table.values(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
    }
  }

  std::printf("rows x cols:                         %zu x %zu\n", static_cast<size_t>(table.values.rows()),
              static_cast<size_t>(table.values.cols()));
  std::printf("ReadCsvFile, all threads (best of 3): %7.3f s  %7.1f MB/s\n", fedra_s, mb / fedra_s);
  std::printf("ReadCsvFile, 1 thread    (best of 3): %7.3f s  %7.1f MB/s\n", fedra_1t_s, mb / fedra_1t_s);
  std::printf("ProbeCsvFile, all threads (best of 3): %6.3f s  %7.1f MB/s\n", probe_s, mb / probe_s);
  std::printf("baseline: read + strtod, 1 thread  : %7.3f s  %7.1f MB/s\n", strtod_s, mb / strtod_s);
  std::printf("speed-up over baseline:             %7.2fx (1 thread: %.2fx)\n", strtod_s / fedra_s,
              strtod_s / fedra_1t_s);
  std::printf("values agree with baseline:          %s\n", agree ? "yes" : "NO");

  if (generate) std::filesystem::remove(path);
  return agree ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: bench_csv [path]\n");
    return 2;
  }
  std::string path =
      argc == 2
          ? argv[1]
          : (std::filesystem::temp_directory_path() / ("bench_csv_" + std::to_string(getpid()) + ".csv")).string();
  const bool generate = !std::filesystem::exists(path);
  return Run(path, generate);
}

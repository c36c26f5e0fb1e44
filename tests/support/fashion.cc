#include "tests/support/fashion.h"

#include <chrono>
#include <fstream>
#include <random>

#include "common/idx_reader.h"
#include "site-agent/trainer.h"

namespace fedra::testing {
namespace {

void WriteIdx(const std::filesystem::path& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  const char magic[4] = {0, 0, 0x08, static_cast<char>(dims.size())};
  out.write(magic, 4);
  for (uint32_t d : dims) {
    const char be[4] = {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8),
                        static_cast<char>(d)};
    out.write(be, 4);
  }
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

bool FashionAvailable() { return std::filesystem::exists(kFashionDir / "train-images-idx3-ubyte.gz"); }

Result<std::vector<int64_t>> AddNonIidFashion(LocalFederation& local) {
  FEDRA_ASSIGN_OR_RETURN(Matrix images,
                         ReadIdxFile((kFashionDir / "train-images-idx3-ubyte.gz").string(), "train images"));
  FEDRA_ASSIGN_OR_RETURN(Matrix labels,
                         ReadIdxFile((kFashionDir / "train-labels-idx1-ubyte.gz").string(), "train labels"));
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<uint8_t>> site_images(3), site_labels(3);
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    const int label = static_cast<int>(labels(i, 0));
    const int home = label <= 2 ? 0 : label <= 5 ? 1 : 2;
    const int site = u(rng) < 0.7 ? home : static_cast<int>(u(rng) * 3) % 3;
    for (Eigen::Index j = 0; j < images.cols(); ++j) site_images[site].push_back(static_cast<uint8_t>(images(i, j)));
    site_labels[site].push_back(static_cast<uint8_t>(label));
  }
  std::vector<int64_t> counts;
  for (int s = 0; s < 3; ++s) {
    const std::string site = local.sites()[static_cast<size_t>(s)];
    const auto n = static_cast<uint32_t>(site_labels[s].size());
    WriteIdx(local.kit(site) / "images.idx", {n, 28, 28}, site_images[s]);
    WriteIdx(local.kit(site) / "labels.idx", {n}, site_labels[s]);
    local.EditConfig(site, [](nlohmann::json& c) {
      c["datasets"]["fashion"] = {{"format", "idx"},
                                  {"path", "images.idx"},
                                  {"labels", "labels.idx"},
                                  {"privacy", "private-aggregate"},
                                  {"allow_training", true}};
    });
    counts.push_back(n);
  }
  return counts;
}

Result<std::pair<Matrix, Matrix>> LoadFashionTest() {
  FEDRA_ASSIGN_OR_RETURN(Matrix images,
                         ReadIdxFile((kFashionDir / "t10k-images-idx3-ubyte.gz").string(), "test images"));
  FEDRA_ASSIGN_OR_RETURN(Matrix labels,
                         ReadIdxFile((kFashionDir / "t10k-labels-idx1-ubyte.gz").string(), "test labels"));
  return std::pair(std::move(images), std::move(labels));
}

TrainingOptions FashionMlpOptions(int rounds) {
  TrainingOptions options;
  options.model.inputs = 784;
  options.model.hidden = {128};
  options.model.outputs = 10;
  options.model.input_scale = 255;
  options.optimizer.lr = 0.005f;
  options.optimizer.momentum = 0.9f;
  options.rounds = rounds;
  options.epochs_per_round = 2;
  options.batch_size = 32;
  return options;
}

Result<FashionRun> TrainAndTestFashion(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                       const TrainingOptions& options, const std::pair<Matrix, Matrix>& test) {
  const auto start = std::chrono::steady_clock::now();
  FashionRun run;
  FEDRA_ASSIGN_OR_RETURN(run.trained, TrainFederated(fed, x, y, options));
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  FEDRA_ASSIGN_OR_RETURN(Targets targets, MakeTargets(options.model, test.second));
  const BatchStats s = Mlp(options.model).Run(run.trained.parameters, test.first.cast<float>(), targets, nullptr);
  run.test_accuracy = static_cast<double>(s.correct) / static_cast<double>(s.rows);
  for (const auto& r : run.trained.rounds) run.bytes_up_per_round += r["bytes_up"].get<double>();
  run.bytes_up_per_round /= static_cast<double>(run.trained.rounds.size());
  return run;
}

}  // namespace fedra::testing

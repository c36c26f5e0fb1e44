// Fashion-MNIST from Debian's dataset-fashion-mnist, as the training tests and benchmarks use
// it: the 60,000 training images split unevenly and non-IID over three sites (each site holds
// mostly its own classes), and the 10,000 test images kept here.
#pragma once

#include <filesystem>
#include <utility>

#include "common/matrix.h"
#include "master/algorithms/federated_training.h"
#include "master/tensor/federated_matrix.h"
#include "tests/support/local_federation.h"

namespace fedra::testing {

inline const std::filesystem::path kFashionDir = "/usr/share/datasets/fashion-mnist";

// Whether the package's files are here.
bool FashionAvailable();

// Writes each site's share of the training set into its kit as IDX files and adds them as the
// private-aggregate dataset "fashion" (784 pixel columns and "label") to the first three sites of
// `local`, before it starts: 70% of each class goes to its home site (0-2, 3-5, 6-9), the rest
// at random. Returns the images per site.
Result<std::vector<int64_t>> AddNonIidFashion(LocalFederation& local);

// The 10,000 test images (rows of 784 pixels) and their labels.
Result<std::pair<Matrix, Matrix>> LoadFashionTest();

// The 784-128-10 MLP both use: FedAvg rounds of two local epochs, SGD (lr 0.005, momentum 0.9),
// batch 32.
TrainingOptions FashionMlpOptions(int rounds);

struct FashionRun {
  double test_accuracy = 0;
  double bytes_up_per_round = 0;
  double seconds = 0;
  ParameterServerResult trained;
};

// Trains with `options` and scores the returned model on the test images here (they never
// reach the sites).
Result<FashionRun> TrainAndTestFashion(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y,
                                       const TrainingOptions& options, const std::pair<Matrix, Matrix>& test);

}  // namespace fedra::testing

// A training job's state at the end of a round: enough to go on from there in another process
// (a master that restarted), with the same parameters, server optimizer and round records.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/status.h"
#include "federated/optimizer.h"

namespace fedra {

struct TrainingCheckpoint {
  int64_t round = 0;  // rounds done
  Eigen::VectorXf parameters;
  OptimizerState optimizer;            // the server's
  std::vector<nlohmann::json> rounds;  // the records of the rounds done
  // The saved model's parts besides its parameters (master/jobs/saved_model.h): layers, features,
  // transform and classes, so that a run that stops early keeps a model that can be used.
  nlohmann::json model = nlohmann::json::object();
};

// Where a training job saves its checkpoints, and the one it goes on from.
struct TrainingRecovery {
  std::function<Status(const TrainingCheckpoint&)> save;  // null: none are saved
  // Rounds between saves (and after the last); 0: a hundredth of the rounds, so that a long run
  // writes about a hundred checkpoints, each of which holds every round's record so far.
  int64_t every = 0;
  std::optional<TrainingCheckpoint> resume;
  nlohmann::json model = nlohmann::json::object();  // stored with each checkpoint (above)
};

Bytes EncodeCheckpoint(const TrainingCheckpoint& checkpoint);
// kDataLoss on anything malformed or truncated.
Result<TrainingCheckpoint> DecodeCheckpoint(std::span<const uint8_t> bytes);

}  // namespace fedra

// The model a job fitted, saved whole: what using it on new rows needs, in one JSON document
// ("format": "fedra-model"), served by GET .../models/model:
//
//   {"format": "fedra-model", "version": 1, "algorithm": "lm", "run_id": 7, "dataset": "sensors",
//    "features": ["pressure", "shift"], "label": "temperature",     (raw columns, in order)
//    "transform": {...},                   (encodes the raw columns into the model's inputs)
//    "inputs": ["pressure", "shiftnight"], (the model's inputs, after the transform)
//    "coefficients": [{"name": "(intercept)", "estimate": 1.2}, ...]}
//
// by algorithm: lm and lmCG "coefficients"; logreg "coefficients" and "classes"; kmeans
// "centers"; pca "components", "center", "scale" and "variances"; nn "model" (layers and
// activations), "parameters" and "classes". A training run that stopped early saves the last
// checkpoint (its parameters and the parts it describes) with "partial": {"round"}.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "master/algorithms/model_use.h"
#include "master/jobs/job.h"
#include "master/ps/checkpoint.h"
#include "master/script/interpreter.h"

namespace fedra {

// The model of an algorithm's `result` (run `run`); nullopt for results without one.
std::optional<nlohmann::json> SavedModel(const JobSpec& job, const nlohmann::json& result, int64_t run);

// The models of `job`'s `result` by name: "model" for the algorithms that fit one; for scripts,
// each model the script declared (save_model) under its own name.
std::map<std::string, nlohmann::json> SavedModels(const JobSpec& job, const nlohmann::json& result, int64_t run);

// A script's save_model as a saved model's parts (the header aside), checked as ReadUsableModel
// checks saved models: a declared model can be used like any other.
Result<nlohmann::json> DeclaredModel(const script::ModelDeclaration& declared);

// The model of a training run that ended before its last round, from its last checkpoint.
std::optional<nlohmann::json> PartialModel(const JobSpec& job, const TrainingCheckpoint& checkpoint, int64_t run);

// What using the model on rows needs, from its document; errors name the field ("model.centers").
Result<UsableModel> ReadUsableModel(const nlohmann::json& model, const std::string& where);

// The saved model's transform over `columns` (its features, with or without the label): the
// entries of other columns left out; {} when it has none.
Result<nlohmann::json> SavedTransformSpec(const nlohmann::json& model, const std::vector<std::string>& columns);

// Each array-valued part's shape ([rows] or [rows, cols]), for listings.
nlohmann::json ModelShapes(const nlohmann::json& model);

}  // namespace fedra

// Every algorithm a job may name, in one list (registry.cc): job parsing, `fedra-master help`,
// GET /api/v1/algorithms and the dashboard's job form all read it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "master/jobs/algorithm.h"

namespace fedra {

const std::vector<AlgorithmInfo>& Algorithms();

// The algorithm called `name`, or null.
const AlgorithmInfo* FindAlgorithm(std::string_view name);

// Every algorithm's ToJson(), in order.
nlohmann::json AlgorithmCatalog();

// The algorithms and their parameters as help text, indented by `indent` spaces.
std::string AlgorithmHelp(int indent);

}  // namespace fedra

// Requests as any client can write them: names and JSON parameters as they travel on the wire.
// For tests of what a site does with what it is sent, whatever fedra's own master would build
// (typed builders: federated/instruction.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "federated/protocol.h"

namespace fedra {

inline Request RawRequest(RequestType type, VarId output, std::string name, std::vector<VarId> inputs,
                          nlohmann::json params = nlohmann::json::object()) {
  Request q;
  q.type = type;
  q.output = output;
  q.name = std::move(name);
  q.inputs = std::move(inputs);
  q.params = std::move(params);
  return q;
}

// kExec of operation `name`.
inline Request RawExec(VarId output, std::string name, std::vector<VarId> inputs,
                       nlohmann::json params = nlohmann::json::object()) {
  return RawRequest(RequestType::kExec, output, std::move(name), std::move(inputs), std::move(params));
}

// kCall of site function `name`.
inline Request RawCall(VarId output, std::string name, std::vector<VarId> inputs,
                       nlohmann::json params = nlohmann::json::object()) {
  return RawRequest(RequestType::kCall, output, std::move(name), std::move(inputs), std::move(params));
}

}  // namespace fedra

// The local operations a site executes for kExec requests, as both sides must agree on them:
// name, number of inputs, and their privacy behaviour (how rows propagate, what is allowed on
// protected rows, how a dp-aggregate release is noised; see privacy.h). The site implements
// them; the master only names them.
#pragma once

#include <span>
#include <string_view>

#include "federated/privacy.h"

namespace fedra {

struct OperationInfo {
  std::string_view name;
  int arity;  // number of input variables
  OperationPrivacy privacy;
  std::string_view doc;  // one line, for --help and error messages
};

// Every operation sites support.
std::span<const OperationInfo> Operations();

// The operation called `name`, or nullptr.
const OperationInfo* FindOperation(std::string_view name);

}  // namespace fedra

// The local operations a site executes for kExec requests, as both sides must agree on them:
// name, number of inputs, and whether the result reduces over rows (which decides how privacy
// propagates, see privacy.h). The site implements them; the master only names them.
#pragma once

#include <span>
#include <string_view>

namespace fedra {

struct OperationInfo {
  std::string_view name;
  int arity;             // number of input variables
  bool aggregates_rows;  // result summarises rows (colSums) rather than keeping them (rowSums)
  std::string_view doc;  // one line, for --help and error messages
};

// Every operation sites support.
std::span<const OperationInfo> Operations();

// The operation called `name`, or nullptr.
const OperationInfo* FindOperation(std::string_view name);

}  // namespace fedra

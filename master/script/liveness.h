// Which variables a script still reads after each statement, so that the interpreter can drop
// the others at once: a federated value nobody reads again is released then (cleared with the
// next batch to its sites), not when the script ends. Loops count what the next iteration reads;
// a function's results are read after its body.
#pragma once

#include <set>
#include <string>
#include <unordered_map>

#include "master/script/ast.h"

namespace fedra::script {

// For every statement of the program and of its functions: the variables read after it before
// they are assigned again.
using LiveAfter = std::unordered_map<const Stmt*, std::set<std::string>>;

LiveAfter AnalyseLiveness(const Program& program);

}  // namespace fedra::script

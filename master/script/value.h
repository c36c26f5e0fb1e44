// A script's values: numbers, booleans, strings and local matrices at the master, and nodes of
// the federated graph (graph.h) — federated matrices whose rows stay at the sites, and local
// results not computed yet.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "common/matrix.h"

namespace fedra::script {

class Node;
using NodePtr = std::shared_ptr<Node>;

using Value = std::variant<std::monostate, double, bool, std::string, Matrix, NodePtr>;

}  // namespace fedra::script

// Work over a long array split across the machine's cores: a site masks and a master unmasks
// model-sized vectors of words that one core would take tens of milliseconds over.
#pragma once

#include <cstddef>
#include <functional>

#include "common/status.h"

namespace fedra {

// Calls body(begin, end) for consecutive ranges that cover [0, n), none empty (but [0, 0) when n
// is 0), each a whole number of `grain`s long (but the last), one per core at most (`cores`; 0:
// the machine's): the caller's thread runs the first range, new threads the others. Returns the
// failure of the first range that failed, else Ok.
Status ForRanges(size_t n, size_t grain, const std::function<Status(size_t begin, size_t end)>& body, size_t cores = 0);

}  // namespace fedra

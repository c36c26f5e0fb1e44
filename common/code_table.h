// Tables indexed by an enum code (operations, site functions, their kernels): entry i must hold
// code i, so a lookup is an index. Checked at compile time with static_assert.
#pragma once

#include <cstddef>

namespace fedra {

template <typename Table>
constexpr bool ListedInCodeOrder(const Table& table) {
  for (size_t i = 0; i < table.size(); ++i) {
    if (static_cast<size_t>(table[i].code) != i) return false;
  }
  return true;
}

}  // namespace fedra

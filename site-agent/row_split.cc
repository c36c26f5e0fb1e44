#include "site-agent/row_split.h"

namespace fedra {
namespace {

// A uniform number in [0, 1) from (seed, index): the same rows fall in the held-out split on
// every run, whatever the thread count. splitmix64's finaliser.
double Draw(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace

std::vector<uint32_t> PickRows(uint64_t rows, const SplitRowsParams& split, uint64_t seed,
                               std::span<const uint32_t> cell_of_row) {
  std::vector<uint32_t> picked;
  for (uint64_t i = 0; i < rows; ++i) {
    const uint64_t unit = cell_of_row.empty() ? i : cell_of_row[i];
    if ((Draw(seed, unit) < split.fraction) == split.held_out) picked.push_back(static_cast<uint32_t>(i));
  }
  return picked;
}

}  // namespace fedra

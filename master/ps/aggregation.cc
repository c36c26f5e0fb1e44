#include "master/ps/aggregation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <new>
#include <stdexcept>
#include <vector>

#include "common/float_conversion.h"
#include "common/parallel.h"

namespace fedra {
namespace {

// Values read per range (over all the updates; the last range may read fewer), so that a thread is
// started only for work that outlasts its start (about 0.1 ms of reading here).
constexpr size_t kValuesPerRange = size_t{1} << 18;

// Calls body(begin, end) over ranges of [0, n) on the machine's cores (`cores`; 0: all), each of
// about kValuesPerRange values of the `k` updates.
template <typename Body>
void OverCoordinates(Eigen::Index n, size_t k, size_t cores, const Body& body) {
  const Status done = ForRanges(
      static_cast<size_t>(n), std::max<size_t>(1, kValuesPerRange / std::max<size_t>(k, 1)),
      [&](size_t begin, size_t end) {
        body(static_cast<Eigen::Index>(begin), static_cast<Eigen::Index>(end));
        return Status::Ok();
      },
      cores);
  // A range fails only by throwing (ForRanges catches it): thrown again here, as on one thread.
  if (done.code() == StatusCode::kResourceExhausted) throw std::bad_alloc();
  if (!done.ok()) throw std::runtime_error(done.message());
}

// Summed in double, a block at a time: the block's sums stay in cache, so each update is read
// once and nothing model-sized is written but the result (a whole-vector sum took 8% of the
// master's time in a 1M-parameter round). Each update is scaled by its share of the rows, so
// nothing divides afterwards (that pass took a fifth of the mean's time).
Eigen::VectorXf WeightedMean(const std::vector<const SiteUpdate*>& updates, size_t cores) {
  double rows = 0;
  for (const SiteUpdate* u : updates) rows += u->rows;
  std::vector<double> shares;
  shares.reserve(updates.size());
  for (const SiteUpdate* u : updates) shares.push_back(rows > 0 ? u->rows / rows : 0.0);  // no rows: all zero
  const Eigen::Index n = updates.front()->values.size();
  Eigen::VectorXf out(n);
  OverCoordinates(n, updates.size(), cores, [&](Eigen::Index begin, Eigen::Index end) {
    constexpr Eigen::Index kBlock = 4096;
    std::array<double, kBlock> sums;  // on the stack: a range's work allocates nothing
    for (Eigen::Index at = begin; at < end; at += kBlock) {
      const auto m = static_cast<size_t>(std::min(kBlock, end - at));
      std::fill_n(sums.begin(), m, -0.0);  // -0.0 + x is x, signed zeros too
      for (size_t k = 0; k < updates.size(); ++k)
        AddScaled({updates[k]->values.data() + at, m}, shares[k], sums.data());
      NarrowToFloat({sums.data(), m}, out.data() + at);
    }
  });
  return out;
}

// Per coordinate, the mean of the values ranked [cut, k - cut): the trimmed mean, and with cut
// (k - 1) / 2 the median (the middle value, or the mean of the middle two). Ranked by sorting up
// to kSortUpTo values, else by selection, which is linear in k: the median of 4 updates took 1.3
// times as long selected, that of 32 updates 1.5 times as long sorted.
constexpr size_t kSortUpTo = 16;

Eigen::VectorXf TrimmedMean(const std::vector<const SiteUpdate*>& updates, size_t cut, size_t cores) {
  const size_t k = updates.size();
  const Eigen::Index n = updates.front()->values.size();
  Eigen::VectorXf out(n);
  OverCoordinates(n, k, cores, [&](Eigen::Index begin, Eigen::Index end) {
    std::vector<float> column(k);
    const auto low = column.begin() + static_cast<std::ptrdiff_t>(cut);
    const auto high = column.end() - static_cast<std::ptrdiff_t>(cut);
    for (Eigen::Index i = begin; i < end; ++i) {
      for (size_t j = 0; j < k; ++j) column[j] = updates[j]->values[i];
      if (cut > 0 && k <= kSortUpTo) {
        std::sort(column.begin(), column.end());
      } else if (cut > 0) {
        // The last value kept, with those ranked below it before it; then the first kept among
        // those (the largest of them when it is one of two kept, as for the median of an even k).
        std::nth_element(column.begin(), high - 1, column.end());
        if (high - low == 2) {
          std::iter_swap(low, std::max_element(column.begin(), high - 1));
        } else if (high - low > 2) {
          std::nth_element(column.begin(), low, high - 1);
        }
      }
      double sum = 0;
      for (auto v = low; v != high; ++v) sum += *v;
      out[i] = static_cast<float>(sum / static_cast<double>(k - 2 * cut));
    }
  });
  return out;
}

}  // namespace

Status CheckAggregation(const AggregationSpec& spec) {
  if (spec.name != "mean" && spec.name != "median" && spec.name != "trimmed_mean") {
    return InvalidArgument("unknown aggregator '" + spec.name + "' (mean, median, trimmed_mean)");
  }
  if (spec.name == "trimmed_mean" && !(spec.trim >= 0 && spec.trim < 0.5)) {
    return InvalidArgument("trimmed_mean: trim must be in [0, 0.5), got " + std::to_string(spec.trim));
  }
  return Status::Ok();
}

Eigen::VectorXf Aggregate(const AggregationSpec& spec, const std::vector<const SiteUpdate*>& updates, size_t cores) {
  if (spec.name == "median") return TrimmedMean(updates, (updates.size() - 1) / 2, cores);
  if (spec.name == "trimmed_mean") {
    const size_t cut = static_cast<size_t>(std::floor(spec.trim * static_cast<double>(updates.size())));
    return TrimmedMean(updates, cut, cores);
  }
  return WeightedMean(updates, cores);
}

}  // namespace fedra

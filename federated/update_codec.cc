#include "federated/update_codec.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "common/config.h"
#include "common/float_conversion.h"

namespace fedra {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kSparse = 1;
constexpr uint8_t kEightBit = 2;
constexpr uint32_t kMaxStats = 64;

// Indices of the `k` largest magnitudes, ascending.
std::vector<uint32_t> TopIndices(const Eigen::VectorXf& v, int64_t k) {
  std::vector<uint32_t> idx(static_cast<size_t>(v.size()));
  std::iota(idx.begin(), idx.end(), 0u);
  std::nth_element(idx.begin(), idx.begin() + k - 1, idx.end(),
                   [&v](uint32_t a, uint32_t b) { return std::abs(v[a]) > std::abs(v[b]); });
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Everything before the values: format, flags, dense length, statistics, count sent.
void WriteHeader(ByteWriter* w, bool sparse, bool eight_bit, int64_t n, std::span<const double> stats, int64_t k) {
  w->Put(kFormat);
  w->Put(static_cast<uint8_t>((sparse ? kSparse : 0) | (eight_bit ? kEightBit : 0)));
  w->Put(static_cast<uint64_t>(n));
  w->Put(static_cast<uint32_t>(stats.size()));
  w->Append(stats.data(), stats.size() * sizeof(double));
  w->Put(static_cast<uint64_t>(k));
}

// u8 format + u8 flags + u64 length + u32 statistics count + the statistics + u64 count sent.
size_t HeaderBytes(std::span<const double> stats) { return 1 + 1 + 8 + 4 + stats.size() * sizeof(double) + 8; }

// An uncompressed update's header, with room for its `n` values.
Bytes LosslessHeader(size_t n, std::span<const double> stats) {
  Bytes out;
  out.reserve(HeaderBytes(stats) + n * sizeof(float));
  ByteWriter w(&out);
  WriteHeader(&w, false, false, static_cast<int64_t>(n), stats, static_cast<int64_t>(n));
  return out;
}

}  // namespace

nlohmann::json CompressionSpec::ToJson() const {
  nlohmann::json j = {{"topk", topk}, {"bits", bits}};
  if (clip > 0) j["clip"] = clip;
  return j;
}

Result<CompressionSpec> ParseCompressionSpec(const nlohmann::json& doc, const std::string& where) {
  CompressionSpec spec;
  JsonFields f(doc, where);
  FEDRA_RETURN_IF_ERROR(f.status());
  int64_t bits = spec.bits;
  FEDRA_RETURN_IF_ERROR(f.Optional("topk", &spec.topk, 0, 1));
  FEDRA_RETURN_IF_ERROR(f.Optional("bits", &bits, 8, 32));
  FEDRA_RETURN_IF_ERROR(f.Optional("clip", &spec.clip, 0, 1e30));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (spec.topk == 0) return InvalidArgument(f.Path("topk") + ": the fraction of values sent must be in (0, 1]");
  if (bits != 8 && bits != 32) return InvalidArgument(f.Path("bits") + ": 8 or 32, got " + std::to_string(bits));
  spec.bits = static_cast<int>(bits);
  return spec;
}

void ClipNorm(Eigen::VectorXf* values, double bound) {
  if (bound <= 0) return;
  const double norm = values->cast<double>().norm();
  if (norm > bound) *values *= static_cast<float>(bound / norm);
}

PackedUpdate PackUpdate(const Eigen::VectorXf& values, std::span<const double> stats, const CompressionSpec& spec) {
  Eigen::VectorXf clipped;
  const Eigen::VectorXf* v = &values;
  if (spec.clip > 0) {
    clipped = values;
    ClipNorm(&clipped, spec.clip);
    v = &clipped;
  }
  const int64_t n = v->size();
  const int64_t k = spec.topk < 1 ? std::clamp<int64_t>(std::llround(spec.topk * static_cast<double>(n)), 1, n) : n;
  const bool sparse = k < n;
  const bool eight_bit = spec.bits == 8;

  PackedUpdate out;
  out.bytes.reserve(HeaderBytes(stats) + 8 + static_cast<size_t>(k) * (sparse ? 8 : 4));
  ByteWriter w(&out.bytes);
  WriteHeader(&w, sparse, eight_bit, n, stats, k);
  if (!sparse && !eight_bit) {  // lossless: the floats as they are
    w.Append(v->data(), static_cast<size_t>(n) * sizeof(float));
    if (spec.lossy()) out.decoded = *v;  // a top-k fraction that rounds to every value loses nothing
    return out;
  }
  std::vector<uint32_t> idx;
  if (sparse) {
    idx = TopIndices(*v, k);
    w.Append(idx.data(), idx.size() * sizeof(uint32_t));
  }
  std::vector<float> sent(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) sent[static_cast<size_t>(i)] = sparse ? (*v)[idx[static_cast<size_t>(i)]] : (*v)[i];
  if (eight_bit) {
    const auto [lo_it, hi_it] = std::minmax_element(sent.begin(), sent.end());
    const float lo = *lo_it, hi = *hi_it;
    const float step = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    w.Put(lo);
    w.Put(step);
    std::vector<uint8_t> q(sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      q[i] = static_cast<uint8_t>(std::clamp(std::lround((sent[i] - lo) / step), 0L, 255L));
      sent[i] = lo + step * static_cast<float>(q[i]);  // what the receiver reads back
    }
    w.Append(q.data(), q.size());
  } else {
    w.Append(sent.data(), sent.size() * sizeof(float));
  }
  out.decoded = Eigen::VectorXf::Zero(n);
  for (int64_t i = 0; i < k; ++i) out.decoded[sparse ? idx[static_cast<size_t>(i)] : i] = sent[static_cast<size_t>(i)];
  return out;
}

Bytes PackLosslessUpdate(std::span<const double> values, std::span<const double> stats) {
  Bytes out = LosslessHeader(values.size(), stats);
  ByteWriter w(&out);
  // Narrowed a block at a time into a buffer that stays in cache: no model-sized float copy.
  constexpr size_t kBlock = 4096;
  std::array<float, kBlock> block;
  for (size_t at = 0; at < values.size(); at += kBlock) {
    const std::span<const double> part = values.subspan(at, std::min(kBlock, values.size() - at));
    NarrowToFloat(part, block.data());
    w.Append(block.data(), part.size() * sizeof(float));
  }
  return out;
}

Bytes PackLosslessUpdate(std::span<const float> values, std::span<const double> stats) {
  Bytes out = LosslessHeader(values.size(), stats);
  ByteWriter(&out).Append(values.data(), values.size() * sizeof(float));
  return out;
}

Result<UnpackedUpdate> UnpackUpdate(std::span<const uint8_t> bytes, int64_t expected_size) {
  ByteReader r(bytes);
  uint8_t format = 0, flags = 0;
  uint64_t n = 0, k = 0;
  uint32_t stat_count = 0;
  FEDRA_RETURN_IF_ERROR(r.Get(&format));
  if (format != kFormat) return DataLoss("update: unknown format " + std::to_string(format));
  FEDRA_RETURN_IF_ERROR(r.Get(&flags));
  if (flags > (kSparse | kEightBit)) return DataLoss("update: unknown flags " + std::to_string(flags));
  FEDRA_RETURN_IF_ERROR(r.Get(&n));
  if (n != static_cast<uint64_t>(expected_size)) {
    return DataLoss("update: " + std::to_string(n) + " values, the model has " + std::to_string(expected_size));
  }
  FEDRA_RETURN_IF_ERROR(r.Get(&stat_count));
  if (stat_count > kMaxStats) return DataLoss("update: " + std::to_string(stat_count) + " statistics");
  UnpackedUpdate out;
  out.stats.resize(stat_count);
  FEDRA_RETURN_IF_ERROR(r.Copy(out.stats.data(), stat_count * sizeof(double), "update statistics"));
  FEDRA_RETURN_IF_ERROR(r.Get(&k));
  const bool sparse = flags & kSparse;
  if (k > n || (!sparse && k != n))
    return DataLoss("update: " + std::to_string(k) + " of " + std::to_string(n) + " values");
  std::vector<uint32_t> idx;
  if (sparse) {
    FEDRA_RETURN_IF_ERROR(r.Need(k * sizeof(uint32_t), "update indices"));
    idx.resize(k);
    FEDRA_RETURN_IF_ERROR(r.Copy(idx.data(), k * sizeof(uint32_t), "update indices"));
    for (uint32_t i : idx) {
      if (i >= n) return DataLoss("update: index " + std::to_string(i) + " outside " + std::to_string(n) + " values");
    }
  }
  if (!sparse && !(flags & kEightBit)) {  // lossless: the floats as they are
    FEDRA_RETURN_IF_ERROR(r.Need(k * sizeof(float), "update values"));
    if (r.remaining() != k * sizeof(float)) {
      return DataLoss("update: " + std::to_string(r.remaining() - k * sizeof(float)) + " bytes after the values");
    }
    out.values.resize(static_cast<Eigen::Index>(n));
    // Checked a block at a time as it is copied, while the block is in cache.
    constexpr Eigen::Index kBlock = 4096;
    for (Eigen::Index at = 0; at < out.values.size(); at += kBlock) {
      const Eigen::Index m = std::min(kBlock, out.values.size() - at);
      FEDRA_RETURN_IF_ERROR(r.Copy(out.values.data() + at, static_cast<size_t>(m) * sizeof(float), "update values"));
      // x * 0 is NaN only for an infinite or NaN x, and a sum is vectorised where allFinite is not
      // (4x faster). It needs IEEE arithmetic: no -ffinite-math-only.
      if (std::isnan((out.values.segment(at, m).array() * 0.0f).sum())) {
        return DataLoss("update: a value is not finite");
      }
    }
    return out;
  }
  std::vector<float> sent(k);
  if (flags & kEightBit) {
    float lo = 0, step = 0;
    FEDRA_RETURN_IF_ERROR(r.Get(&lo));
    FEDRA_RETURN_IF_ERROR(r.Get(&step));
    FEDRA_RETURN_IF_ERROR(r.Need(k, "update values"));
    std::vector<uint8_t> q(k);
    FEDRA_RETURN_IF_ERROR(r.Copy(q.data(), k, "update values"));
    for (size_t i = 0; i < k; ++i) sent[i] = lo + step * static_cast<float>(q[i]);
  } else {
    FEDRA_RETURN_IF_ERROR(r.Need(k * sizeof(float), "update values"));
    FEDRA_RETURN_IF_ERROR(r.Copy(sent.data(), k * sizeof(float), "update values"));
  }
  if (r.remaining() != 0) return DataLoss("update: " + std::to_string(r.remaining()) + " bytes after the values");
  out.values = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < k; ++i) out.values[sparse ? idx[i] : static_cast<Eigen::Index>(i)] = sent[i];
  for (float x : sent) {
    if (!std::isfinite(x)) return DataLoss("update: a value is not finite");
  }
  return out;
}

}  // namespace fedra

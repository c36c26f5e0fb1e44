// Model updates on their way from a site to the parameter server: a vector of float values
// (a parameter delta or an accrued gradient) and a few double statistics (loss sum, correct
// predictions, rows, epoch), packed for the wire with the compression the job asks for:
//
//   "compression": {"topk": 0.01, "bits": 8, "clip": 10}
//
//   - clip: the values' L2 norm is scaled down to at most this (before anything else);
//   - topk: only this fraction of the values, the largest in magnitude, travels, with their
//     indices;
//   - bits: 8 quantises each sent value to one byte on a uniform grid between the smallest and
//     the largest sent value (32: floats, the default).
//
// What compression drops is the site's residual: it is added to the next update before that is
// compressed (error feedback), so nothing is lost for good, only delayed.
//
// Layout (little-endian): u8 format version, u8 flags (1: sparse, 2: 8-bit), u64 length of the
// dense vector, u32 statistics count + doubles, u64 count of values sent, [u32 indices if
// sparse], then floats, or f32 low + f32 step + one byte per value.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/status.h"

namespace fedra {

// The statistics that follow the values of a site's training update (trainLocal's output),
// in this order.
enum TrainingStat { kLossSum = 0, kCorrect, kRowsTrained, kLastEpoch };
inline constexpr int kTrainingStats = 4;

struct CompressionSpec {
  double topk = 1;  // fraction of values sent, (0, 1]
  int bits = 32;    // 32 or 8
  double clip = 0;  // L2 norm bound; 0: none

  bool lossy() const { return topk < 1 || bits < 32; }
  // No compression and no clip: an update travels as it is.
  bool as_is() const { return !lossy() && clip <= 0; }
  nlohmann::json ToJson() const;
};

// Parses a job's "compression" object; `where` prefixes errors.
Result<CompressionSpec> ParseCompressionSpec(const nlohmann::json& doc, const std::string& where);

struct PackedUpdate {
  Bytes bytes;
  // What the receiver will unpack, for lossy specs (values - decoded is the residual); empty
  // when only clipping or nothing at all was asked for.
  Eigen::VectorXf decoded;
};

// Scales `values` down to an L2 norm of at most `bound` (0: no bound).
void ClipNorm(Eigen::VectorXf* values, double bound);

// Packs `values`, clipped first when the spec says so.
PackedUpdate PackUpdate(const Eigen::VectorXf& values, std::span<const double> stats, const CompressionSpec& spec);

// The same bytes as PackUpdate with no compression and no clip, from doubles narrowed to float...
Bytes PackLosslessUpdate(std::span<const double> values, std::span<const double> stats);
// ...or from floats as they are.
Bytes PackLosslessUpdate(std::span<const float> values, std::span<const double> stats);

struct UnpackedUpdate {
  Eigen::VectorXf values;
  std::vector<double> stats;
};

// Fails with kDataLoss on anything malformed, or when the dense length is not `expected_size`.
Result<UnpackedUpdate> UnpackUpdate(std::span<const uint8_t> bytes, int64_t expected_size);

}  // namespace fedra

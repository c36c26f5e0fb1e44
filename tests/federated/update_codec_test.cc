#include <doctest/doctest.h>

#include <algorithm>
#include <limits>

#include "federated/update_codec.h"
#include "tests/support/random_data.h"

namespace fedra {
namespace {

Eigen::VectorXf RandomVector(int n, uint32_t seed) { return testing::NormalMatrix(n, 1, seed).cast<float>(); }

TEST_CASE("uncompressed updates travel exactly, with their statistics") {
  const Eigen::VectorXf v = RandomVector(1000, 1);
  const std::vector<double> stats = {12.5, 7, 32, 3};
  PackedUpdate p = PackUpdate(v, stats, CompressionSpec{});
  CHECK(p.bytes.size() < 1000 * sizeof(float) + 64);
  Result<UnpackedUpdate> u = UnpackUpdate(p.bytes, 1000);
  REQUIRE(u.ok());
  CHECK(u->values == v);
  CHECK(u->stats == stats);
}

TEST_CASE("a top-k fraction that rounds to every value sends them all and leaves no residual") {
  const Eigen::VectorXf v = RandomVector(10, 8);
  CompressionSpec spec;
  spec.topk = 0.96;  // 9.6 of 10 values rounds to 10
  const PackedUpdate p = PackUpdate(v, {}, spec);
  REQUIRE(p.decoded.size() == 10);
  CHECK(p.decoded == v);  // the residual, v - decoded, is zero
  Result<UnpackedUpdate> u = UnpackUpdate(p.bytes, 10);
  REQUIRE(u.ok());
  CHECK(u->values == v);
}

TEST_CASE("an uncompressed update packed from doubles is the same bytes as from floats") {
  const Eigen::VectorXd d = testing::NormalMatrix(10000, 1, 7).col(0);  // more than one block
  const std::vector<double> stats = {1.5, 2, 3, 4};
  const Bytes from_doubles = PackLosslessUpdate(std::span<const double>(d.data(), 10000), stats);
  const Eigen::VectorXf f = d.cast<float>();
  CHECK(from_doubles == PackUpdate(f, stats, CompressionSpec{}).bytes);
  CHECK(from_doubles == PackLosslessUpdate(std::span<const float>(f.data(), 10000), stats));
  Result<UnpackedUpdate> u = UnpackUpdate(from_doubles, 10000);
  REQUIRE(u.ok());
  CHECK((u->values.cast<double>() - d).cwiseAbs().maxCoeff() <= 1e-6 * d.cwiseAbs().maxCoeff());
}

TEST_CASE("top-k sends exactly the k largest magnitudes, with their indices") {
  const Eigen::VectorXf v = RandomVector(1000, 2);
  CompressionSpec spec;
  spec.topk = 0.01;
  PackedUpdate p = PackUpdate(v, {}, spec);
  Result<UnpackedUpdate> u = UnpackUpdate(p.bytes, 1000);
  REQUIRE(u.ok());
  std::vector<float> magnitudes(v.data(), v.data() + v.size());
  for (float& m : magnitudes) m = std::abs(m);
  std::sort(magnitudes.begin(), magnitudes.end(), std::greater<>());
  int kept = 0;
  for (int i = 0; i < 1000; ++i) {
    if (u->values[i] == 0) continue;
    ++kept;
    CHECK(u->values[i] == v[i]);
    CHECK(std::abs(v[i]) >= magnitudes[9]);
  }
  CHECK(kept == 10);
  CHECK(p.bytes.size() < 10 * 8 + 64);  // index and value per kept entry
}

TEST_CASE("8-bit quantisation is within half a step of every value") {
  const Eigen::VectorXf v = RandomVector(5000, 3);
  CompressionSpec spec;
  spec.bits = 8;
  PackedUpdate p = PackUpdate(v, {}, spec);
  Result<UnpackedUpdate> u = UnpackUpdate(p.bytes, 5000);
  REQUIRE(u.ok());
  const float step = (v.maxCoeff() - v.minCoeff()) / 255.0f;
  CHECK((u->values - v).cwiseAbs().maxCoeff() <= 0.5f * step * 1.0001f);
  CHECK(u->values == p.decoded);
  CHECK(p.bytes.size() < 5000 + 64);
}

TEST_CASE("clipping bounds the norm; error feedback loses nothing over rounds") {
  const Eigen::VectorXf v = RandomVector(400, 4) * 10;
  CompressionSpec clip;
  clip.clip = 5;
  const Eigen::VectorXf c = UnpackUpdate(PackUpdate(v, {}, clip).bytes, 400)->values;
  CHECK(c.norm() == doctest::Approx(5).epsilon(1e-5));
  CHECK((c / c.norm() - v / v.norm()).cwiseAbs().maxCoeff() < 1e-6f);

  // What was sent plus what is still held back equals what was to be sent, every round.
  CompressionSpec spec;
  spec.topk = 0.05;
  spec.bits = 8;
  Eigen::VectorXf residual = Eigen::VectorXf::Zero(400), sent = Eigen::VectorXf::Zero(400),
                  total = Eigen::VectorXf::Zero(400);
  for (uint32_t round = 0; round < 20; ++round) {
    const Eigen::VectorXf update = RandomVector(400, 100 + round);
    total += update;
    const Eigen::VectorXf with_residual = update + residual;
    PackedUpdate p = PackUpdate(with_residual, {}, spec);
    residual = with_residual - p.decoded;
    sent += UnpackUpdate(p.bytes, 400)->values;
  }
  CHECK((sent + residual - total).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("malformed packed updates are refused with the reason") {
  CompressionSpec spec;
  spec.topk = 0.1;
  const std::vector<double> stats = {1, 2};
  PackedUpdate p = PackUpdate(RandomVector(100, 5), stats, spec);
  CHECK(UnpackUpdate(p.bytes, 101).status().message() == "update: 100 values, the model has 101");
  Bytes truncated(p.bytes.begin(), p.bytes.end() - 1);
  CHECK(UnpackUpdate(truncated, 100).status().code() == StatusCode::kDataLoss);
  Bytes bad_index = p.bytes;
  const size_t first_index = 1 + 1 + 8 + 4 + 2 * 8 + 8;
  bad_index[first_index + 3] = 0x7f;
  CHECK(UnpackUpdate(bad_index, 100).status().message().find("outside 100 values") != std::string::npos);
  Bytes extra = p.bytes;
  extra.push_back(0);
  CHECK(UnpackUpdate(extra, 100).status().message() == "update: 1 bytes after the values");
  // Uncompressed: trailing bytes, and a value that is not finite past the first few thousand.
  Eigen::VectorXf dense = RandomVector(10000, 6);
  Bytes dense_extra = PackUpdate(dense, stats, CompressionSpec{}).bytes;
  dense_extra.push_back(0);
  CHECK(UnpackUpdate(dense_extra, 10000).status().message() == "update: 1 bytes after the values");
  for (const Eigen::Index at : {Eigen::Index{5}, Eigen::Index{9000}}) {
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()}) {
      Eigen::VectorXf dirty = dense;
      dirty[at] = bad;
      CHECK(UnpackUpdate(PackUpdate(dirty, stats, CompressionSpec{}).bytes, 10000).status().message() ==
            "update: a value is not finite");
    }
  }
  CHECK(ParseCompressionSpec(nlohmann::json{{"topk", 0}}, "ps.compression")
            .status()
            .message()
            .find("ps.compression.topk") != std::string::npos);
  CHECK(ParseCompressionSpec(nlohmann::json{{"bits", 16}}, "ps.compression").status().message() ==
        "ps.compression.bits: 8 or 32, got 16");
}

}  // namespace
}  // namespace fedra

// Wire codecs: matrices and frame headers round-trip exactly, and malformed bytes fail cleanly.
#include <doctest/doctest.h>

#include <random>

#include "common/framing.h"
#include "common/matrix_codec.h"

namespace fedra {

TEST_CASE("matrix codec round-trips shapes and bit-exact values") {
  std::mt19937 rng(7);
  std::normal_distribution<double> dist;
  for (auto [r, c] : {std::pair{0, 0}, {1, 1}, {3, 0}, {17, 5}, {1, 300}}) {
    Matrix m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
    Bytes bytes;
    ByteWriter w(&bytes);
    EncodeMatrix(m, &w);
    CHECK(bytes.size() == EncodedMatrixBytes(m));
    ByteReader rd(bytes);
    Matrix back;
    REQUIRE(DecodeMatrix(&rd, &back).ok());
    CHECK(back.rows() == r);
    CHECK(back.cols() == c);
    CHECK(back == m);
    CHECK(rd.remaining() == 0);
  }
}

TEST_CASE("matrix codec rejects truncation and absurd shapes before allocating") {
  Matrix m = Matrix::Ones(4, 4);
  Bytes bytes;
  ByteWriter w(&bytes);
  EncodeMatrix(m, &w);
  for (size_t cut : {size_t{0}, size_t{7}, size_t{16}, bytes.size() - 1}) {
    ByteReader rd(std::span<const uint8_t>(bytes.data(), cut));
    Matrix back;
    Status s = DecodeMatrix(&rd, &back);
    CHECK(s.code() == StatusCode::kDataLoss);
    CHECK(s.message().find("truncated") != std::string::npos);
  }
  Bytes huge;
  ByteWriter hw(&huge);
  hw.Put(uint64_t{1} << 40);
  hw.Put(uint64_t{1} << 40);
  ByteReader rd(huge);
  Matrix back;
  CHECK(DecodeMatrix(&rd, &back).code() == StatusCode::kDataLoss);
  CHECK(back.size() == 0);
  // No values, but 2^33 rows for operations to walk.
  Bytes empty;
  ByteWriter ew(&empty);
  ew.Put(uint64_t{1} << 33);
  ew.Put(uint64_t{0});
  ByteReader er(empty);
  const Status s = DecodeMatrix(&er, &back);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message() == "matrix shape 8589934592x0: an empty matrix with more than 1048576 rows or columns");
  // Empty matrices of ordinary extent still decode.
  Bytes small;
  ByteWriter sw(&small);
  EncodeMatrix(Matrix(0, 5), &sw);
  ByteReader sr(small);
  REQUIRE(DecodeMatrix(&sr, &back).ok());
  CHECK(back.cols() == 5);
}

TEST_CASE("frame header checks magic, version, kind and size limit") {
  auto h = EncodeFrameHeader(FrameKind::kRequestBatch, 0x1122334455667788, 100);
  Result<FrameHeader> ok = DecodeFrameHeader(h, 1000);
  REQUIRE(ok.ok());
  CHECK(ok->kind == FrameKind::kRequestBatch);
  CHECK(ok->id == 0x1122334455667788);
  CHECK(ok->length == 100);
  CHECK(DecodeFrameHeader(EncodeFrameHeader(FrameKind::kValueChunk, 1, 5), 1000)->kind == FrameKind::kValueChunk);

  CHECK(DecodeFrameHeader(h, 99).status().code() == StatusCode::kResourceExhausted);
  auto bad_magic = h;
  bad_magic[0] = 'X';
  CHECK(DecodeFrameHeader(bad_magic, 1000).status().message().find("magic") != std::string::npos);
  auto bad_version = h;
  bad_version[4] = 99;
  CHECK(DecodeFrameHeader(bad_version, 1000).status().message().find("version 99") != std::string::npos);
  auto bad_kind = h;
  bad_kind[6] = 42;
  CHECK(DecodeFrameHeader(bad_kind, 1000).status().message().find("kind 42") != std::string::npos);
}

TEST_CASE("error bodies carry code and message") {
  Status s = PermissionDenied("no");
  Status back = DecodeErrorBody(EncodeErrorBody(s));
  CHECK(back.code() == StatusCode::kPermissionDenied);
  CHECK(back.message() == "no");
  CHECK(DecodeErrorBody(Bytes{1, 2}).code() == StatusCode::kDataLoss);
}

}  // namespace fedra

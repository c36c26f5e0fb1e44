// The IDX reader on files written here, plain and gzip-compressed: values, element types, and
// errors that say where the file is wrong.
#include <doctest/doctest.h>

#include <zlib.h>

#include <cstring>

#include "common/idx_reader.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::TempDir;

std::string Header(uint8_t type, std::vector<uint32_t> dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) h += static_cast<char>((d >> shift) & 0xff);
  }
  return h;
}

void WriteGzip(const std::filesystem::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
}

}  // namespace

TEST_CASE("IDX files read the same plain and gzip-compressed") {
  TempDir dir;
  std::string bytes = Header(0x08, {3, 2, 2});
  for (int i = 0; i < 12; ++i) bytes += static_cast<char>(i * 20);
  testing::WriteFile(dir / "plain.idx", bytes);
  WriteGzip(dir / "packed.idx.gz", bytes);
  for (const char* name : {"plain.idx", "packed.idx.gz"}) {
    CAPTURE(name);
    Result<IdxShape> shape = ProbeIdxFile((dir / name).string(), name);
    REQUIRE(shape.ok());
    CHECK(shape->items() == 3);
    CHECK(shape->item_size() == 4);
    Result<Matrix> m = ReadIdxFile((dir / name).string(), name, nullptr, 1);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    REQUIRE(m->rows() == 3);
    REQUIRE(m->cols() == 5);  // four elements and the extra column
    CHECK((*m)(0, 1) == 20);
    CHECK((*m)(2, 3) == 220);
    CHECK((*m)(1, 4) == 0);
  }
}

TEST_CASE("multi-byte IDX elements are big-endian") {
  TempDir dir;
  std::string bytes = Header(0x0D, {2});
  for (float v : {1.5f, -2.25f}) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((bits >> shift) & 0xff);
  }
  testing::WriteFile(dir / "f.idx", bytes);
  Result<Matrix> m = ReadIdxFile((dir / "f.idx").string(), "f.idx");
  REQUIRE(m.ok());
  CHECK((*m)(0, 0) == 1.5);
  CHECK((*m)(1, 0) == -2.25);
}

TEST_CASE("bad IDX files are refused, saying where") {
  TempDir dir;
  auto error = [&](const std::string& bytes) {
    testing::WriteFile(dir / "bad.idx", bytes);
    return ReadIdxFile((dir / "bad.idx").string(), "dataset 'x' (bad.idx)").status();
  };
  CHECK(error("PK\x03\x04 not idx").message().find("not an IDX file") != std::string::npos);
  CHECK(error(Header(0x42, {1}) + "x").message().find("unknown IDX element type") != std::string::npos);
  Status truncated = error(Header(0x08, {3, 2}) + "abcd");
  CHECK(truncated.code() == StatusCode::kDataLoss);
  CHECK_MESSAGE(
      truncated.message().find("dataset 'x' (bad.idx): truncated: item 3 of 3 ends at byte 16") != std::string::npos,
      truncated.message());
  CHECK(error(Header(0x08, {1, 2}) + "abc").message().find("unexpected bytes after the 1 items") != std::string::npos);
  Status refused = ReadIdxFile((dir / "bad.idx").string(), "bad.idx", [](size_t, size_t) {
                     return ResourceExhausted("over budget");
                   }).status();
  CHECK(refused.code() == StatusCode::kResourceExhausted);
  CHECK(ProbeIdxFile((dir / "missing.idx").string(), "missing.idx").status().code() == StatusCode::kNotFound);
}

TEST_CASE("an IDX shape too large to hold is refused before anything is allocated, with or without items") {
  TempDir dir;
  auto read = [&](const std::string& bytes) {
    testing::WriteFile(dir / "big.idx", bytes);
    return ReadIdxFile((dir / "big.idx").string(), "big.idx");
  };
  // Found by fuzz_idx: no items of 2^27 x 212,739 bytes each made the reader allocate one item.
  const Status no_items = read(Header(0x08, {0, 0x08010000, 0x00033f03})).status();
  CHECK(no_items.code() == StatusCode::kResourceExhausted);
  CHECK(no_items.message() == "big.idx: implausibly large IDX shape");
  CHECK(read(Header(0x08, {2, 1 << 21, 1 << 20})).status().code() == StatusCode::kResourceExhausted);
  // No items of a modest size is an empty matrix.
  Result<Matrix> empty = read(Header(0x08, {0, 28, 28}));
  REQUIRE_MESSAGE(empty.ok(), empty.status().ToString());
  CHECK(empty->rows() == 0);
  CHECK(empty->cols() == 784);
}

}  // namespace fedra

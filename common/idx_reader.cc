#include "common/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>

namespace fedra {
namespace {

// A gzip or plain file through zlib, which reads either transparently.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  // Reads up to n bytes; returns the count read, or -1 on a decompression error.
  int64_t Read(void* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(f_, static_cast<char*>(out) + done, chunk);
      if (got < 0) return -1;
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return static_cast<int64_t>(done);
  }
  std::string Error() {
    int code = 0;
    const char* message = gzerror(f_, &code);
    return message ? message : "unknown error";
  }

 private:
  gzFile f_;
};

struct ElementType {
  uint8_t code;
  size_t bytes;
  const char* name;
};
constexpr std::array kTypes = {ElementType{0x08, 1, "unsigned byte"}, ElementType{0x09, 1, "signed byte"},
                               ElementType{0x0B, 2, "short"},         ElementType{0x0C, 4, "int"},
                               ElementType{0x0D, 4, "float"},         ElementType{0x0E, 8, "double"}};

struct Header {
  IdxShape shape;
  ElementType type;
};

Result<Header> ReadHeader(GzFile& f, const std::string& source) {
  uint8_t magic[4];
  const int64_t got = f.Read(magic, 4);
  if (got < 0) return DataLoss(source + ": " + f.Error());
  if (got < 4 || magic[0] != 0 || magic[1] != 0)
    return DataLoss(source + ": not an IDX file (bad magic number at byte 0)");
  Header h{};
  bool known = false;
  for (const ElementType& t : kTypes) {
    if (t.code == magic[2]) h.type = t, known = true;
  }
  if (!known) return DataLoss(source + ": unknown IDX element type 0x" + std::to_string(magic[2]) + " at byte 2");
  if (magic[3] == 0) return DataLoss(source + ": IDX file with no dimensions (byte 3)");
  for (uint8_t d = 0; d < magic[3]; ++d) {
    uint8_t be[4];
    if (f.Read(be, 4) != 4)
      return DataLoss(source + ": truncated in the dimensions (byte " + std::to_string(4 + 4 * d) + ")");
    h.shape.dims.push_back(uint32_t{be[0]} << 24 | uint32_t{be[1]} << 16 | uint32_t{be[2]} << 8 | be[3]);
  }
  // At most 2^40 elements in an item and in all, checked factor by factor so that no product
  // wraps, whatever the item count (a file may declare no items of an enormous size).
  constexpr uint64_t kMaxElements = uint64_t{1} << 40;
  uint64_t item = 1;
  for (size_t i = 1; i < h.shape.dims.size(); ++i) {
    const uint32_t d = h.shape.dims[i];
    if (d != 0 && item > kMaxElements / d) return ResourceExhausted(source + ": implausibly large IDX shape");
    item *= d;
  }
  if (item != 0 && h.shape.items() > kMaxElements / item) {
    return ResourceExhausted(source + ": implausibly large IDX shape");
  }
  return h;
}

double Element(const uint8_t* p, uint8_t code) {
  // IDX stores multi-byte elements big-endian.
  auto be = [p](size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | p[i];
    return v;
  };
  switch (code) {
    case 0x08: return p[0];
    case 0x09: return static_cast<int8_t>(p[0]);
    case 0x0B: return static_cast<int16_t>(be(2));
    case 0x0C: return static_cast<int32_t>(be(4));
    case 0x0D: {
      const auto bits = static_cast<uint32_t>(be(4));
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    default: {
      const uint64_t bits = be(8);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
  }
}

}  // namespace

uint64_t IdxShape::item_size() const {
  uint64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

Result<IdxShape> ProbeIdxFile(const std::string& path, const std::string& source_name) {
  GzFile f(path);
  if (!f.ok()) return NotFound(source_name + ": cannot open");
  FEDRA_ASSIGN_OR_RETURN(Header h, ReadHeader(f, source_name));
  return h.shape;
}

Result<Matrix> ReadIdxFile(const std::string& path, const std::string& source_name,
                           const std::function<Status(size_t rows, size_t cols)>& admit, size_t extra_columns) {
  GzFile f(path);
  if (!f.ok()) return NotFound(source_name + ": cannot open");
  FEDRA_ASSIGN_OR_RETURN(Header h, ReadHeader(f, source_name));
  const uint64_t rows = h.shape.items(), cols = h.shape.item_size();
  if (admit) FEDRA_RETURN_IF_ERROR(admit(rows, cols + extra_columns));
  Matrix out = Matrix::Zero(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols + extra_columns));
  const size_t header_bytes = 4 + 4 * h.shape.dims.size();
  // `admit` saw rows x cols; with no rows, an item's buffer is not needed either.
  std::vector<uint8_t> item(rows == 0 ? 0 : cols * h.type.bytes);
  for (uint64_t r = 0; r < rows; ++r) {
    const int64_t got = f.Read(item.data(), item.size());
    if (got < 0) return DataLoss(source_name + ": " + f.Error());
    if (static_cast<size_t>(got) != item.size()) {
      return DataLoss(source_name + ": truncated: item " + std::to_string(r + 1) + " of " + std::to_string(rows) +
                      " ends at byte " + std::to_string(header_bytes + r * item.size() + static_cast<size_t>(got)));
    }
    for (uint64_t c = 0; c < cols; ++c) {
      out(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) =
          Element(item.data() + c * h.type.bytes, h.type.code);
    }
  }
  uint8_t extra;
  const int64_t trailing = f.Read(&extra, 1);
  if (trailing < 0) return DataLoss(source_name + ": " + f.Error());
  if (trailing == 1) {
    return DataLoss(source_name + ": unexpected bytes after the " + std::to_string(rows) +
                    " items the header declares");
  }
  return out;
}

}  // namespace fedra

// Little-endian byte buffers: the building blocks of every fedra wire message.
//
// ByteWriter appends fixed-width integers, doubles, strings and raw spans. ByteReader reads them
// back with bounds checks: every read that would run past the end fails with kDataLoss and says
// at which offset, so a truncated or garbage message never reads out of bounds.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra {

static_assert(std::endian::native == std::endian::little,
              "fedra's wire format is little-endian and copies values as they lie in memory");

using Bytes = std::vector<uint8_t>;

// What travels as raw bytes: integers and floating-point numbers.
template <typename T>
concept WireNumber = std::is_arithmetic_v<T>;

class ByteWriter {
 public:
  explicit ByteWriter(Bytes* out) : out_(out) {}

  template <WireNumber T>
  void Put(T v) {
    Append(&v, sizeof(v));
  }
  // u32 length, then the bytes.
  void PutString(std::string_view s);
  void Append(const void* data, size_t n);
  size_t size() const { return out_->size(); }

 private:
  Bytes* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}

  template <WireNumber T>
  Status Get(T* v) {
    FEDRA_RETURN_IF_ERROR(Need(sizeof(T), "integer"));
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  // Reads a u32-length-prefixed string of at most `max_len` bytes.
  Status GetString(std::string* s, size_t max_len = 1 << 20);
  // Copies n bytes into dst.
  Status Copy(void* dst, size_t n, std::string_view what);
  // Fails unless n more bytes remain; `what` names the field in the error.
  Status Need(size_t n, std::string_view what) const;

  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace fedra

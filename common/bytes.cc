#include "common/bytes.h"

namespace fedra {

void ByteWriter::PutString(std::string_view s) {
  Put(static_cast<uint32_t>(s.size()));
  Append(s.data(), s.size());
}

void ByteWriter::Append(const void* data, size_t n) {
  if (n == 0) return;
  const auto* p = static_cast<const uint8_t*>(data);
  out_->insert(out_->end(), p, p + n);
}

Status ByteReader::Need(size_t n, std::string_view what) const {
  if (n > remaining()) {
    return DataLoss("message truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
                    std::to_string(pos_) + ", only " + std::to_string(remaining()) + " left");
  }
  return Status::Ok();
}

Status ByteReader::GetString(std::string* s, size_t max_len) {
  uint32_t len = 0;
  FEDRA_RETURN_IF_ERROR(Get(&len));
  if (len > max_len) {
    return DataLoss("string of " + std::to_string(len) + " bytes at offset " + std::to_string(pos_) +
                    " exceeds the limit of " + std::to_string(max_len));
  }
  FEDRA_RETURN_IF_ERROR(Need(len, "string"));
  s->assign(reinterpret_cast<const char*>(in_.data() + pos_), len);
  pos_ += len;
  return Status::Ok();
}

Status ByteReader::Copy(void* dst, size_t n, std::string_view what) {
  FEDRA_RETURN_IF_ERROR(Need(n, what));
  if (n > 0) std::memcpy(dst, in_.data() + pos_, n);
  pos_ += n;
  return Status::Ok();
}

}  // namespace fedra

#include "common/framing.h"

#include <algorithm>
#include <cstring>

namespace fedra {
namespace net = boost::asio;
namespace {

bool KnownKind(uint16_t kind) { return kind >= 1 && kind <= 4; }

}  // namespace

std::array<uint8_t, kFrameHeaderBytes> EncodeFrameHeader(FrameKind kind, uint64_t id, uint64_t length) {
  std::array<uint8_t, kFrameHeaderBytes> h{};
  const uint16_t version = kProtocolVersion;
  const auto k = static_cast<uint16_t>(kind);
  std::memcpy(h.data(), &kFrameMagic, 4);
  std::memcpy(h.data() + 4, &version, 2);
  std::memcpy(h.data() + 6, &k, 2);
  std::memcpy(h.data() + 8, &id, 8);
  std::memcpy(h.data() + 16, &length, 8);
  return h;
}

Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderBytes> bytes, uint64_t max_body) {
  uint32_t magic;
  uint16_t version, kind;
  FrameHeader h;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 2);
  std::memcpy(&kind, bytes.data() + 6, 2);
  std::memcpy(&h.id, bytes.data() + 8, 8);
  std::memcpy(&h.length, bytes.data() + 16, 8);
  if (magic != kFrameMagic) return DataLoss("not a fedra message (bad magic)");
  if (version != kProtocolVersion) {
    return DataLoss("protocol version " + std::to_string(version) + " not supported (this is " +
                    std::to_string(kProtocolVersion) + ")");
  }
  if (!KnownKind(kind)) return DataLoss("unknown message kind " + std::to_string(kind));
  if (h.length > max_body) {
    return ResourceExhausted("message of " + std::to_string(h.length) + " bytes exceeds the limit of " +
                             std::to_string(max_body));
  }
  h.kind = static_cast<FrameKind>(kind);
  return h;
}

Bytes EncodeErrorBody(const Status& status) {
  Bytes body;
  ByteWriter w(&body);
  w.Put(static_cast<uint8_t>(status.code()));
  w.PutString(status.message());
  return body;
}

Status DecodeErrorBody(std::span<const uint8_t> body) {
  ByteReader r(body);
  uint8_t code = 0;
  std::string message;
  if (!r.Get(&code).ok() || !r.GetString(&message).ok()) return DataLoss("malformed error message from peer");
  const std::optional<StatusCode> known = StatusCodeFromWire(code);
  if (!known || *known == StatusCode::kOk) {
    return DataLoss("error message from peer with status code " + std::to_string(code) + ", which is not an error");
  }
  return Status(*known, message);
}

Bytes HeadBody(uint64_t value_bytes, std::span<const uint8_t> head) {
  Bytes body(sizeof(value_bytes) + head.size());
  std::memcpy(body.data(), &value_bytes, sizeof(value_bytes));
  if (!head.empty()) std::memcpy(body.data() + sizeof(value_bytes), head.data(), head.size());
  return body;
}

Result<uint64_t> SplitHeadBody(Bytes* body) {
  uint64_t value_bytes = 0;
  if (body->size() < sizeof(value_bytes)) return DataLoss("a head too short to say how many bytes of values follow");
  std::memcpy(&value_bytes, body->data(), sizeof(value_bytes));
  body->erase(body->begin(), body->begin() + sizeof(value_bytes));
  return value_bytes;
}

net::awaitable<Result<FrameHeader>> ReadFrameHeader(TlsChannel& channel, uint64_t max_body, Deadline first,
                                                    Deadline rest) {
  std::array<uint8_t, kFrameHeaderBytes> header{};
  Status read = co_await channel.Read(header, first, rest);
  if (!read.ok()) {
    co_return read.code() == StatusCode::kDeadlineExceeded ? read : read.WithContext("reading message");
  }
  co_return DecodeFrameHeader(header, max_body);
}

net::awaitable<Result<Bytes>> ReadFrameBody(TlsChannel& channel, uint64_t length, Deadline deadline) {
  constexpr size_t kFirstStep = 64 << 10, kLargestStep = 16 << 20;
  Bytes body;
  size_t arrived = 0;
  for (size_t step = kFirstStep; arrived < length; step = std::min(step * 2, kLargestStep)) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - arrived, step));
    body.resize(arrived + want);
    Status read = co_await channel.Read(std::span<uint8_t>(body.data() + arrived, want), deadline, &arrived);
    if (!read.ok()) {
      co_return read.WithContext("reading message body (" + std::to_string(arrived) + " of " + std::to_string(length) +
                                 " bytes arrived)");
    }
  }
  co_return body;
}

net::awaitable<Status> WriteFrame(TlsChannel& channel, FrameKind kind, uint64_t id, std::span<const uint8_t> body,
                                  Deadline deadline) {
  const auto header = EncodeFrameHeader(kind, id, body.size());
  // A small frame is copied behind its header so that it travels in one TLS record.
  constexpr size_t kCoalesceBytes = 16 << 10;
  if (body.size() <= kCoalesceBytes) {
    std::array<uint8_t, kFrameHeaderBytes + kCoalesceBytes> frame;
    std::memcpy(frame.data(), header.data(), header.size());
    if (!body.empty()) std::memcpy(frame.data() + header.size(), body.data(), body.size());
    co_return co_await channel.Write(std::span<const uint8_t>(frame.data(), header.size() + body.size()), deadline);
  }
  FEDRA_CO_RETURN_IF_ERROR(co_await channel.Write(header, deadline, TlsChannel::Flush::kLater));
  co_return co_await channel.Write(body, deadline);
}

}  // namespace fedra

#include "common/framing.h"

#include <algorithm>

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "common/as_tuple.h"

namespace fedra {
namespace net = boost::asio;
namespace {

bool KnownKind(uint16_t kind) { return kind >= 1 && kind <= 3; }

}  // namespace

Status StreamError(const boost::system::error_code& ec, std::string_view what) {
  const std::string w(what);
  if (ec == boost::beast::error::timeout) return DeadlineExceeded(w + ": deadline exceeded");
  if (ec == net::error::eof || ec == net::ssl::error::stream_truncated || ec == net::error::connection_reset ||
      ec == net::error::broken_pipe) {
    return Unavailable(w + ": connection closed by peer");
  }
  if (ec == net::error::operation_aborted) return Unavailable(w + ": connection closed");
  return Unavailable(w + ": " + ec.message());
}

std::array<uint8_t, kFrameHeaderBytes> EncodeFrameHeader(FrameKind kind, uint64_t length) {
  std::array<uint8_t, kFrameHeaderBytes> h{};
  const uint16_t version = kProtocolVersion;
  const auto k = static_cast<uint16_t>(kind);
  std::memcpy(h.data(), &kFrameMagic, 4);
  std::memcpy(h.data() + 4, &version, 2);
  std::memcpy(h.data() + 6, &k, 2);
  std::memcpy(h.data() + 8, &length, 8);
  return h;
}

Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderBytes> bytes, uint64_t max_body) {
  uint32_t magic;
  uint16_t version, kind;
  uint64_t length;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&version, bytes.data() + 4, 2);
  std::memcpy(&kind, bytes.data() + 6, 2);
  std::memcpy(&length, bytes.data() + 8, 8);
  if (magic != kFrameMagic) return DataLoss("not a fedra message (bad magic)");
  if (version != kProtocolVersion) {
    return DataLoss("protocol version " + std::to_string(version) + " not supported (this is " +
                    std::to_string(kProtocolVersion) + ")");
  }
  if (!KnownKind(kind)) return DataLoss("unknown message kind " + std::to_string(kind));
  if (length > max_body) {
    return ResourceExhausted("message of " + std::to_string(length) + " bytes exceeds the limit of " +
                             std::to_string(max_body));
  }
  return FrameHeader{static_cast<FrameKind>(kind), length};
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

net::awaitable<Result<Frame>> ReadFrame(TlsStream& stream, const ReadLimits& limits) {
  auto& tcp = boost::beast::get_lowest_layer(stream);
  std::array<uint8_t, kFrameHeaderBytes> header{};

  // Wait up to `first_byte` for the frame to start, then `rest` for everything else.
  tcp.expires_after(limits.first_byte);
  auto [ec1, n1] = co_await net::async_read(stream, net::buffer(header.data(), 1), kAsTuple);
  if (ec1) co_return StreamError(ec1, "reading message");
  tcp.expires_after(limits.rest);
  auto [ec2, n2] = co_await net::async_read(stream, net::buffer(header.data() + 1, header.size() - 1), kAsTuple);
  if (ec2) co_return StreamError(ec2, "reading message header");

  Result<FrameHeader> h = DecodeFrameHeader(header, limits.max_body);
  if (!h.ok()) co_return h.status();

  // The buffer grows as bytes arrive, doubling its step: a header that declares a large body and
  // sends nothing costs the first step, not the declared size.
  constexpr size_t kFirstStep = 64 << 10, kLargestStep = 16 << 20;
  Frame frame{h->kind, {}};
  size_t arrived = 0;
  for (size_t step = kFirstStep; arrived < h->length; step = std::min(step * 2, kLargestStep)) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(h->length - arrived, step));
    frame.body.resize(arrived + want);
    auto [ec3, n3] = co_await net::async_read(stream, net::buffer(frame.body.data() + arrived, want), kAsTuple);
    arrived += n3;
    if (ec3) {
      co_return StreamError(ec3, "reading message body (" + std::to_string(arrived) + " of " +
                                     std::to_string(h->length) + " bytes arrived)");
    }
  }
  co_return frame;
}

net::awaitable<Status> WriteFrame(TlsStream& stream, FrameKind kind, std::span<const uint8_t> body, Duration timeout) {
  const auto header = EncodeFrameHeader(kind, body.size());
  boost::beast::get_lowest_layer(stream).expires_after(timeout);
  // Otherwise header and body go as two writes: a gathered write of both through Beast's ssl_stream was
  // seen to complete after the header alone, leaving the peer waiting for the body.
  // Small frames are copied into one buffer so that they travel in one TLS record.
  constexpr size_t kCoalesceBytes = 16 << 10;
  if (body.size() <= kCoalesceBytes) {
    std::array<uint8_t, kFrameHeaderBytes + kCoalesceBytes> frame;
    std::memcpy(frame.data(), header.data(), header.size());
    if (!body.empty()) std::memcpy(frame.data() + header.size(), body.data(), body.size());
    auto [ec, n] = co_await net::async_write(stream, net::buffer(frame.data(), header.size() + body.size()), kAsTuple);
    if (ec) co_return StreamError(ec, "writing message");
    co_return Status::Ok();
  }
  auto [ec1, n1] = co_await net::async_write(stream, net::buffer(header), kAsTuple);
  if (ec1) co_return StreamError(ec1, "writing message");
  {
    auto [ec2, n2] = co_await net::async_write(stream, net::buffer(body.data(), body.size()), kAsTuple);
    if (ec2) co_return StreamError(ec2, "writing message");
    if (n2 != body.size())
      co_return Internal("short write: " + std::to_string(n2) + " of " + std::to_string(body.size()));
  }
  co_return Status::Ok();
}

}  // namespace fedra

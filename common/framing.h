// Framed messages over a mutually authenticated TLS stream.
//
// A frame is a 16-byte header — magic "FDRA", protocol version (u16), kind (u16), body length
// (u64), all little-endian — followed by the body. The reader checks magic, version and kind, and
// refuses a body over its limit before reading it; every read and write has a deadline.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/bytes.h"
#include "common/status.h"

namespace fedra {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using Duration = std::chrono::steady_clock::duration;

inline constexpr uint32_t kFrameMagic = 0x41524446;  // "FDRA" read as little-endian u32
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 16;

enum class FrameKind : uint16_t {
  kRequestBatch = 1,   // master -> site
  kResponseBatch = 2,  // site -> master, one response per request
  kError = 3,          // either way: the frame could not be processed; body is an encoded Status
};

struct FrameHeader {
  FrameKind kind = FrameKind::kError;
  uint64_t length = 0;
};

struct Frame {
  FrameKind kind = FrameKind::kError;
  Bytes body;
};

std::array<uint8_t, kFrameHeaderBytes> EncodeFrameHeader(FrameKind kind, uint64_t length);

// Validates a received header: magic, version, known kind, length <= max_body.
Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderBytes> bytes, uint64_t max_body);

// An encoded Status as the body of a kError frame, and back.
Bytes EncodeErrorBody(const Status& status);
Status DecodeErrorBody(std::span<const uint8_t> body);

// Limits for one read. `first_byte` bounds the wait for a frame to start (an idle connection);
// `rest` bounds reading the remainder once it has started (a slow or truncated sender).
struct ReadLimits {
  uint64_t max_body = 64u << 20;
  Duration first_byte = std::chrono::minutes(10);
  Duration rest = std::chrono::seconds(30);
};

// Reads one frame. Errors: kDeadlineExceeded on a deadline, kUnavailable when the peer closed,
// kDataLoss for a bad header, kResourceExhausted for a body over the limit.
boost::asio::awaitable<Result<Frame>> ReadFrame(TlsStream& stream, const ReadLimits& limits);

// Writes one frame (header and body gathered in one write) within `timeout`.
boost::asio::awaitable<Status> WriteFrame(TlsStream& stream, FrameKind kind, std::span<const uint8_t> body,
                                          Duration timeout);

// A Status for a failed stream operation: what was being done and the system's reason.
Status StreamError(const boost::system::error_code& ec, std::string_view what);

}  // namespace fedra

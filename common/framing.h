// Framed messages over a mutually authenticated TLS channel.
//
// A frame is a 24-byte header — magic "FDRA", protocol version (u16), kind (u16), message id
// (u64), body length (u64), all little-endian — followed by the body. A message is a head frame
// (a request batch or a response batch, after the count of its values' bytes; or an error) and,
// when it carries large values, the value chunks that follow it: kValueChunk frames with the same message id, each at
// most one chunk long, whose bytes land in the values the head declared, in order. Frames of different messages may
// interleave, so a large transfer never holds up a small one.
//
// The reader checks magic, version and kind, and refuses a body over its limit before reading
// it; every read and write has a deadline.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include <boost/asio/awaitable.hpp>

#include "common/bytes.h"
#include "common/status.h"
#include "common/tls_channel.h"

namespace fedra {

inline constexpr uint32_t kFrameMagic = 0x41524446;  // "FDRA" read as little-endian u32
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kFrameHeaderBytes = 24;
// Values travel in chunks of this size: a peer's frame limit must allow one.
inline constexpr uint64_t kValueChunkBytes = 1 << 20;

enum class FrameKind : uint16_t {
  kRequestBatch = 1,   // master -> site
  kResponseBatch = 2,  // site -> master, one response per request
  kError = 3,          // either way: the message (id) or, with id 0, the connection could not be
                       // processed; the body is an encoded Status
  kValueChunk = 4,     // the next bytes of message id's values
};

struct FrameHeader {
  FrameKind kind = FrameKind::kError;
  uint64_t id = 0;
  uint64_t length = 0;
};

struct Frame {
  FrameKind kind = FrameKind::kError;
  uint64_t id = 0;
  Bytes body;
};

std::array<uint8_t, kFrameHeaderBytes> EncodeFrameHeader(FrameKind kind, uint64_t id, uint64_t length);

// Validates a received header: magic, version, known kind, length <= max_body.
Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderBytes> bytes, uint64_t max_body);

// An encoded Status as the body of a kError frame, and back.
Bytes EncodeErrorBody(const Status& status);
Status DecodeErrorBody(std::span<const uint8_t> body);

// The body of a batch's head frame (not an error's): the bytes of values that follow it as chunks
// (u64), then the encoded batch. Knowing them, a receiver that refuses the batch can still skip
// its values and stay in step.
Bytes HeadBody(uint64_t value_bytes, std::span<const uint8_t> head);
// Takes the count off the front of `body` and returns it.
Result<uint64_t> SplitHeadBody(Bytes* body);

// Reads a frame header: the first byte by `first` (an idle connection may wait long), the rest by
// `rest`. Errors: kDeadlineExceeded, kUnavailable when the peer closed, kDataLoss for a bad
// header, kResourceExhausted for a body over `max_body`.
boost::asio::awaitable<Result<FrameHeader>> ReadFrameHeader(TlsChannel& channel, uint64_t max_body, Deadline first,
                                                            Deadline rest);

// Reads a body of `length` bytes by `deadline`. The buffer grows as bytes arrive, so a header that
// declares a large body and sends nothing costs little.
boost::asio::awaitable<Result<Bytes>> ReadFrameBody(TlsChannel& channel, uint64_t length, Deadline deadline);

// Writes one frame by `deadline`; a small one goes as one TLS record.
boost::asio::awaitable<Status> WriteFrame(TlsChannel& channel, FrameKind kind, uint64_t id,
                                          std::span<const uint8_t> body, Deadline deadline);

}  // namespace fedra

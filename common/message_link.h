// A multiplexed message link over one TLS channel (framing.h): many messages in flight both
// ways, each a head and the values it declares. Values travel in chunks straight from the
// sender's memory into the receiver's — no message is ever built or buffered whole — and the
// chunks of different messages take turns, so a small answer never waits behind a large one.
//
// A link lives on its channel's strand: call Send and Receive from there. It is shared: its writer
// keeps it alive while messages are queued.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/framing.h"
#include "common/transfer_progress.h"

namespace fedra {

struct OutgoingMessage {
  FrameKind kind = FrameKind::kError;
  uint64_t id = 0;
  Bytes head;
  // Sent after the head, in chunks. Whoever sends keeps this memory alive until Send returns.
  std::vector<std::span<const uint8_t>> values;
};

// What a received head asks of the link: where its values go, and whom to tell.
struct IncomingMessage {
  std::vector<std::span<uint8_t>> values;
  // Called once, on the strand: Ok when every value has arrived, else why not.
  std::function<void(Status)> done;
};

struct LinkOptions {
  std::string peer;                           // names the peer in logs
  uint64_t max_frame_bytes = 64 << 20;        // a head or a chunk
  uint64_t chunk_bytes = kValueChunkBytes;    // values are sent in chunks of this size
  Duration idle = std::chrono::minutes(10);   // with nothing half received, for the next frame
  Duration frame = std::chrono::seconds(30);  // for the rest of a frame, and for the next chunk
                                              // of a message half received; to write a frame
  TransferObserver on_transfer;               // told how long transfers go (may be empty)
};

class MessageLink : public std::enable_shared_from_this<MessageLink> {
 public:
  MessageLink(std::unique_ptr<TlsChannel> channel, LinkOptions options);
  ~MessageLink();

  // Turns a head into where its values go; an error ends the link (the peer is out of step).
  using OnHead = std::function<Result<IncomingMessage>(const FrameHeader& header, Bytes head)>;
  // Reads frames until the link fails or closes and returns why; every message half received
  // by then is told. kDataLoss: a malformed frame (the peer may still be told why).
  boost::asio::awaitable<Status> Receive(OnHead on_head);

  // Queues `message` and returns once it has been written, or could not be (then the link is
  // closed). Messages take turns a chunk at a time.
  boost::asio::awaitable<Status> Send(OutgoingMessage message);

  // Work the peer waits on (a batch running): while there is some, the link is not idle.
  void BeginWork() { ++working_; }
  void EndWork();

  // When the last frame arrived (or the link was made).
  std::chrono::steady_clock::time_point last_received() const { return last_received_; }

  void Close() { channel_->Close(); }
  bool closed() const { return channel_->closed(); }
  TlsChannel& channel() { return *channel_; }
  const LinkOptions& options() const { return options_; }

 private:
  struct Outgoing;
  struct Incoming;

  // Writes queued frames, taking turns, until the queue is empty or `until` (when given) is out.
  boost::asio::awaitable<void> WriteQueued(const Outgoing* until);
  boost::asio::awaitable<Status> WriteNextFrame(Outgoing& out);
  boost::asio::awaitable<Status> ReadChunk(Incoming& in, uint64_t length);
  // Lets the strand's other work run.
  boost::asio::awaitable<void> Yield();

  std::unique_ptr<TlsChannel> channel_;
  const LinkOptions options_;
  std::deque<std::shared_ptr<Outgoing>> queue_;
  bool writing_ = false;
  Status write_failure_;
  std::map<uint64_t, std::unique_ptr<Incoming>> incoming_;
  int working_ = 0;
  std::chrono::steady_clock::time_point last_received_ = std::chrono::steady_clock::now();
};

}  // namespace fedra

#include "common/message_link.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/allocator.h"
#include "common/as_tuple.h"
#include "common/logging.h"

namespace fedra {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

uint64_t TotalBytes(const auto& spans) {
  uint64_t total = 0;
  for (const auto& s : spans) total += s.size();
  return total;
}

}  // namespace

struct MessageLink::Outgoing {
  Outgoing(OutgoingMessage m, const net::any_io_executor& executor, const LinkOptions& options)
      : message(std::move(m)),
        progress("message " + std::to_string(message.id) + " to " + options.peer, true, TotalBytes(message.values),
                 &options.on_transfer),
        wake(executor, Clock::time_point::max()) {}

  bool complete() const { return head_sent && value == message.values.size(); }

  OutgoingMessage message;
  bool head_sent = false;
  size_t value = 0;     // the value the next chunk comes from
  uint64_t offset = 0;  // within it
  TransferMeter progress;
  bool finished = false;
  Status status;
  net::steady_timer wake;  // cancelled when finished
};

struct MessageLink::Incoming {
  IncomingMessage message;  // no values: the values are read and dropped
  uint64_t remaining = 0;
  size_t value = 0;
  uint64_t offset = 0;
  TransferMeter progress;
};

MessageLink::MessageLink(std::unique_ptr<TlsChannel> channel, LinkOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {}

MessageLink::~MessageLink() = default;

void MessageLink::EndWork() {
  if (--working_ == 0 && incoming_.empty()) channel_->ShortenRead(DeadlineAfter(options_.idle));
}

net::awaitable<Status> MessageLink::Send(OutgoingMessage message) {
  if (!write_failure_.ok()) co_return write_failure_;
  if (closed()) co_return Unavailable("sending to " + options_.peer + ": connection closed");
  auto out = std::make_shared<Outgoing>(std::move(message), channel_->socket().get_executor(), options_);
  // Empty values would only cost empty chunks.
  std::erase_if(out->message.values, [](const auto& v) { return v.empty(); });
  if (out->message.kind != FrameKind::kError) {
    out->message.head = HeadBody(TotalBytes(out->message.values), out->message.head);
  }
  queue_.push_back(out);
  // With no writer at work, this call writes, until its own message is out: no hand-over to
  // another coroutine on the way of a small answer.
  if (!writing_) {
    writing_ = true;
    co_await WriteQueued(out.get());
  }
  while (!out->finished) co_await out->wake.async_wait(kAsTuple);
  co_return out->status;
}

net::awaitable<void> MessageLink::WriteQueued(const Outgoing* until) {
  while (!queue_.empty()) {
    if (until && until->finished) {
      // The caller's message is out; a writer of its own takes the rest.
      net::co_spawn(
          channel_->socket().get_executor(), [self = shared_from_this()] { return self->WriteQueued(nullptr); },
          net::detached);
      co_return;
    }
    std::shared_ptr<Outgoing> out = queue_.front();
    queue_.pop_front();
    Status written = co_await WriteNextFrame(*out);
    if (!written.ok()) {
      write_failure_ = written.WithContext("sending to " + options_.peer);
      channel_->Close();
      queue_.push_front(out);
      for (auto& o : queue_) {
        o->status = write_failure_;
        o->finished = true;
        o->wake.cancel();
      }
      queue_.clear();
      break;
    }
    if (out->complete()) {
      out->finished = true;
      out->wake.cancel();
    } else {
      queue_.push_back(out);  // the next message's turn
    }
    co_await Yield();
  }
  writing_ = false;
}

net::awaitable<void> MessageLink::Yield() {
  // While the socket keeps up, reads and writes complete without suspending; this lets the
  // strand's other work (a caller with a small message) in between frames.
  co_await net::post(channel_->socket().get_executor(), net::use_awaitable);
}

net::awaitable<Status> MessageLink::WriteNextFrame(Outgoing& out) {
  const Deadline deadline = DeadlineAfter(options_.frame);
  if (!out.head_sent) {
    out.head_sent = true;
    co_return co_await WriteFrame(*channel_, out.message.kind, out.message.id, out.message.head, deadline);
  }
  const std::span<const uint8_t> value = out.message.values[out.value];
  const std::span<const uint8_t> chunk =
      value.subspan(out.offset, std::min<uint64_t>(options_.chunk_bytes, value.size() - out.offset));
  FEDRA_CO_RETURN_IF_ERROR(co_await WriteFrame(*channel_, FrameKind::kValueChunk, out.message.id, chunk, deadline));
  out.progress.Add(chunk.size());
  out.offset += chunk.size();
  if (out.offset == value.size()) {
    ++out.value;
    out.offset = 0;
  }
  co_return Status::Ok();
}

net::awaitable<Status> MessageLink::ReadChunk(Incoming& in, uint64_t length) {
  if (in.message.values.empty()) {  // a refused message's values: read into a scratch buffer
    Bytes sink(std::min<uint64_t>(length, 64 << 10));
    while (length > 0) {
      const uint64_t n = std::min<uint64_t>(length, sink.size());
      FEDRA_CO_RETURN_IF_ERROR(co_await channel_->Read(std::span(sink).first(n), DeadlineAfter(options_.frame)));
      length -= n;
      in.remaining -= n;
    }
    co_return Status::Ok();
  }
  while (length > 0) {
    const std::span<uint8_t> value = in.message.values[in.value];
    const uint64_t n = std::min<uint64_t>(length, value.size() - in.offset);
    // No further ahead than an honest sender's chunk: a peer that declares a larger one and
    // stalls commits no more of the receiver's memory than it has sent.
    MapInPages(value.data() + in.offset, std::min<uint64_t>(n, options_.chunk_bytes));
    FEDRA_CO_RETURN_IF_ERROR(co_await channel_->Read(value.subspan(in.offset, n), DeadlineAfter(options_.frame)));
    in.progress.Add(n);
    length -= n;
    in.remaining -= n;
    in.offset += n;
    if (in.offset == value.size()) {
      ++in.value;
      in.offset = 0;
    }
  }
  co_return Status::Ok();
}

net::awaitable<Status> MessageLink::Receive(OnHead on_head) {
  Status why;
  for (;;) {
    // Once a message has begun, its next chunk may not keep us waiting long; while work is in
    // hand the peer waits for us, and the link is not idle.
    const Deadline first = !incoming_.empty() ? DeadlineAfter(options_.frame)
                           : working_ > 0     ? Deadline::max()
                                              : DeadlineAfter(options_.idle);
    Result<FrameHeader> header =
        co_await ReadFrameHeader(*channel_, options_.max_frame_bytes, first, DeadlineAfter(options_.frame));
    if (!header.ok()) {
      why = header.status();
      break;
    }
    last_received_ = Clock::now();
    const uint64_t id = header->id;
    if (header->kind == FrameKind::kValueChunk) {
      auto it = incoming_.find(id);
      if (it == incoming_.end()) {
        why = DataLoss("a value chunk for message " + std::to_string(id) + ", which has no values still to come");
        break;
      }
      Incoming& in = *it->second;
      if (header->length > in.remaining) {
        why =
            DataLoss("a value chunk of " + std::to_string(header->length) + " bytes for message " + std::to_string(id) +
                     ", which has only " + std::to_string(in.remaining) + " bytes of values still to come");
        break;
      }
      why = co_await ReadChunk(in, header->length);
      if (!why.ok()) break;
      co_await Yield();
      if (in.remaining == 0) {
        IncomingMessage done = std::move(in.message);
        incoming_.erase(it);
        if (done.done) done.done(Status::Ok());
      }
      continue;
    }
    Result<Bytes> body = co_await ReadFrameBody(*channel_, header->length, DeadlineAfter(options_.frame));
    if (!body.ok()) {
      why = body.status();
      break;
    }
    if (incoming_.contains(id)) {
      why = DataLoss("message " + std::to_string(id) + " began again before its values had all arrived");
      break;
    }
    uint64_t declared = 0;
    if (header->kind != FrameKind::kError) {
      Result<uint64_t> split = SplitHeadBody(&*body);
      if (!split.ok()) {
        why = split.status().WithContext("message " + std::to_string(id));
        break;
      }
      declared = *split;
    }
    Result<IncomingMessage> message = Internal("the head was not handled");
    try {
      message = on_head(*header, std::move(*body));
    } catch (const std::exception& e) {  // bad_alloc making room for its values, and the like
      message = ResourceExhausted("message " + std::to_string(id) + ": " + e.what());
    }
    if (!message.ok()) {
      why = message.status();
      break;
    }
    const uint64_t total = TotalBytes(message->values);
    // A head the receiver refused (it has answered why) declares values nobody will place: they
    // are read and dropped, and the link stays in step.
    if (total != declared && total != 0) {
      why = DataLoss("message " + std::to_string(id) + " declares " + std::to_string(declared) +
                     " bytes of values, and its head " + std::to_string(total));
      break;
    }
    if (declared == 0) {
      if (message->done) message->done(Status::Ok());
      continue;
    }
    std::erase_if(message->values, [](const auto& v) { return v.empty(); });
    incoming_.emplace(id, std::make_unique<Incoming>(
                              Incoming{std::move(*message), declared, 0, 0,
                                       TransferMeter("message " + std::to_string(id) + " from " + options_.peer, false,
                                                     declared, &options_.on_transfer)}));
  }
  for (auto& [id, in] : incoming_) {
    if (in->message.done) in->message.done(why.WithContext("message " + std::to_string(id) + " arrived in part"));
  }
  incoming_.clear();
  co_return why;
}

}  // namespace fedra

#include "common/tls_channel.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <openssl/err.h>

#include "common/as_tuple.h"

namespace fedra {
namespace net = boost::asio;
namespace {

// OpenSSL's records are at most 16 KiB; reading ahead this much takes a burst of them per
// system call.
constexpr int kReadAheadBytes = 256 << 10;

// OpenSSL hands each sealed record to its BIO on its own: 16 KiB per system call. A buffer in
// front of the socket sends them sixteen at a time. Copying a record into it costs less than the
// system call it saves: 400 MB over loopback TCP took the sender 0.35 ms of CPU a MB in 16 KiB
// sends, 0.25 ms in 256 KiB sends with a copy into the buffer first. (Corking the socket for a
// large write, which had helped 16 KiB sends, no longer made a difference, and went.)
constexpr long kWriteBufferBytes = 256 << 10;

TlsChannel::BioSocket& SocketOf(BIO* bio) { return *static_cast<TlsChannel::BioSocket*>(BIO_get_data(bio)); }

bool WouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

// A failed send or receive, from the system's error (0: the stream ended).
Status SocketError(const char* what, int e) {
  if (e == 0 || e == ECONNRESET || e == EPIPE) return Unavailable(std::string(what) + ": connection closed by peer");
  return Unavailable(std::string(what) + ": " + std::strerror(e));
}

// A socket BIO that sends with MSG_NOSIGNAL (a peer that has gone must fail the write, not raise
// SIGPIPE and end the process: OpenSSL's own socket BIO calls write()), and that remembers the
// end of the stream and the system's error for the channel to report.
int BioWrite(BIO* bio, const char* data, size_t n, size_t* written) {
  BIO_clear_retry_flags(bio);
  TlsChannel::BioSocket& s = SocketOf(bio);
  const ssize_t r = ::send(s.fd, data, n, MSG_NOSIGNAL);
  if (r >= 0) {
    *written = static_cast<size_t>(r);
    return 1;
  }
  s.error = errno;
  if (WouldBlock(s.error)) BIO_set_retry_write(bio);
  return 0;
}

int BioRead(BIO* bio, char* data, size_t n, size_t* read) {
  BIO_clear_retry_flags(bio);
  TlsChannel::BioSocket& s = SocketOf(bio);
  const ssize_t r = ::recv(s.fd, data, n, 0);
  if (r > 0) {
    *read = static_cast<size_t>(r);
    return 1;
  }
  if (r == 0) {
    s.eof = true;
  } else {
    s.error = errno;
    if (WouldBlock(s.error)) BIO_set_retry_read(bio);
  }
  return 0;
}

long BioCtrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_EOF: return SocketOf(bio).eof ? 1 : 0;
    case BIO_CTRL_FLUSH: return 1;
    default: return 0;
  }
}

BIO_METHOD* NoSignalSocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "fedra socket");
    BIO_meth_set_write_ex(m, BioWrite);
    BIO_meth_set_read_ex(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    return m;
  }();
  return method;
}

std::string TlsReason() {
  const unsigned long e = ERR_peek_last_error();
  std::string reason = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown" : "unknown";
  ERR_clear_error();
  return reason;
}

}  // namespace

TlsChannel::TlsChannel(net::ip::tcp::socket socket, SSL_CTX* context, Side side)
    : socket_(std::move(socket)), watches_{Watch(socket_.get_executor()), Watch(socket_.get_executor())} {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  socket_.set_option(net::ip::tcp::no_delay(true), ignored);
  ssl_ = SSL_new(context);
  bio_socket_.fd = socket_.native_handle();
  auto socket_bio = [this] {
    BIO* bio = BIO_new(NoSignalSocketMethod());
    BIO_set_data(bio, &bio_socket_);
    BIO_set_init(bio, 1);
    return bio;
  };
  // Reads go to the socket; writes through OpenSSL's buffering BIO (BIO_f_buffer), which a
  // Write flushes when it ends. Its buffer grows to kWriteBufferBytes once the handshake is
  // done: a peer not yet authenticated holds no more than before.
  SSL_set_bio(ssl_, socket_bio(), BIO_push(BIO_new(BIO_f_buffer()), socket_bio()));
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAheadBytes);
  // A partial write reports each sealed record, so a retry never re-offers a moved buffer.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (side == Side::kClient) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsChannel::~TlsChannel() {
  alive_.reset();  // timer handlers already queued find the channel gone
  for (Watch& watch : watches_) watch.timer.cancel();
  SSL_free(ssl_);
}

net::awaitable<Status> TlsChannel::Await(int ret, Deadline deadline, Direction direction, const char* what) {
  const int error = SSL_get_error(ssl_, ret);
  if (closed_) co_return ClosedError(what, direction);
  net::socket_base::wait_type wait = net::socket_base::wait_read;
  switch (error) {
    case SSL_ERROR_WANT_READ: break;
    case SSL_ERROR_WANT_WRITE: wait = net::socket_base::wait_write; break;
    case SSL_ERROR_ZERO_RETURN: co_return Unavailable(std::string(what) + ": connection closed by peer");
    case SSL_ERROR_SYSCALL: {
      const int e = bio_socket_.eof ? 0 : bio_socket_.error;
      ERR_clear_error();
      if (timed_out_) co_return ClosedError(what, direction);
      co_return SocketError(what, e);
    }
    default: {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        co_return Unavailable(std::string(what) + ": connection closed by peer");
      }
      if (timed_out_) co_return ClosedError(what, direction);
      if (!SSL_is_init_finished(ssl_)) co_return Unauthenticated(std::string(what) + ": " + TlsReason());
      co_return Unavailable(std::string(what) + ": TLS error: " + TlsReason());
    }
  }
  co_return co_await AwaitSocket(wait, deadline, direction, what);
}

net::awaitable<Status> TlsChannel::AwaitSocket(net::socket_base::wait_type wait, Deadline deadline, Direction direction,
                                               const char* what) {
  Watch& watch = watches_[direction];
  StartWait(watch, deadline);
  auto [ec] = co_await socket_.async_wait(wait, kAsTuple);
  watch.waiting = false;
  if (timed_out_ || ec) co_return ClosedError(what, direction);
  co_return Status::Ok();
}

Status TlsChannel::ClosedError(const char* what, Direction direction) const {
  if (!timed_out_) return Unavailable(std::string(what) + ": connection closed");
  if (*timed_out_ == direction) return DeadlineExceeded(std::string(what) + ": deadline exceeded");
  // The other direction's deadline closed the channel: say which, not just that it closed.
  return DeadlineExceeded(std::string(what) + ": connection closed: " +
                          (*timed_out_ == kWriting ? "a write waited past its deadline for the peer to read"
                                                   : "a read waited past its deadline for the peer to send"));
}

void TlsChannel::StartWait(Watch& watch, Deadline deadline) {
  watch.deadline = deadline;
  watch.waiting = true;
  if (deadline < watch.armed) Arm(watch);
}

void TlsChannel::ShortenRead(Deadline deadline) {
  Watch& watch = watches_[kReading];
  if (!watch.waiting || deadline >= watch.deadline) return;
  watch.deadline = deadline;
  if (deadline < watch.armed) Arm(watch);
}

void TlsChannel::Arm(Watch& watch) {
  watch.armed = watch.deadline;
  watch.timer.expires_at(watch.deadline);
  watch.timer.async_wait([alive = std::weak_ptr<TlsChannel*>(alive_), &watch](const boost::system::error_code& ec) {
    const std::shared_ptr<TlsChannel*> self = alive.lock();
    if (ec || !self) return;  // armed again, or the channel is gone
    TlsChannel* channel = *self;
    watch.armed = Deadline::max();
    if (!watch.waiting) return;  // the next wait arms it
    if (std::chrono::steady_clock::now() < watch.deadline) {
      channel->Arm(watch);  // this wait's deadline is later than the one the timer was armed for
      return;
    }
    if (channel->closed_) return;  // closed already, by the other direction's deadline or on purpose
    // A lingering close's wait ending is no missed deadline.
    if (!channel->lingering_) channel->timed_out_ = static_cast<Direction>(&watch - channel->watches_);
    channel->Close();
  });
}

net::awaitable<Status> TlsChannel::Handshake(Deadline deadline) {
  for (;;) {
    if (closed_) co_return ClosedError("TLS handshake", kReading);
    ERR_clear_error();
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) {
      // The handshake flushed what it wrote (else it would want to write), so resizing, which
      // drops what the buffer holds, drops nothing.
      BIO* buffered = SSL_get_wbio(ssl_);
      if (BIO_wpending(buffered) == 0) BIO_set_write_buffer_size(buffered, kWriteBufferBytes);
      co_return Status::Ok();
    }
    const Status waited = co_await Await(ret, deadline, kReading, "TLS handshake");
    if (!waited.ok()) co_return waited;
  }
}

net::awaitable<Status> TlsChannel::Read(std::span<uint8_t> out, Deadline first, Deadline rest, size_t* arrived) {
  size_t got = 0;
  while (got < out.size()) {
    if (closed_) co_return ClosedError("reading", kReading);
    ERR_clear_error();
    size_t n = 0;
    const int ret = SSL_read_ex(ssl_, out.data() + got, out.size() - got, &n);
    if (ret == 1) {
      got += n;
      if (arrived) *arrived += n;
      continue;
    }
    const Status waited = co_await Await(ret, got == 0 ? first : rest, kReading, "reading");
    if (!waited.ok()) co_return waited;
  }
  co_return Status::Ok();
}

net::awaitable<Status> TlsChannel::Write(std::span<const uint8_t> data, Deadline deadline, Flush flush) {
  size_t sent = 0;
  while (sent < data.size()) {
    if (closed_) co_return ClosedError("writing", kWriting);
    ERR_clear_error();
    size_t n = 0;
    const int ret = SSL_write_ex(ssl_, data.data() + sent, data.size() - sent, &n);
    if (ret == 1) {
      sent += n;
      continue;
    }
    const Status waited = co_await Await(ret, deadline, kWriting, "writing");
    if (!waited.ok()) co_return waited;
  }
  if (flush == Flush::kLater) co_return Status::Ok();
  BIO* buffered = SSL_get_wbio(ssl_);
  for (;;) {
    if (closed_) co_return ClosedError("writing", kWriting);
    if (BIO_flush(buffered) == 1) co_return Status::Ok();
    if (!BIO_should_retry(buffered)) co_return SocketError("writing", bio_socket_.error);
    const Status waited = co_await AwaitSocket(net::socket_base::wait_write, deadline, kWriting, "writing");
    if (!waited.ok()) co_return waited;
  }
}

net::awaitable<void> TlsChannel::LingeringClose(Duration linger) {
  boost::system::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  lingering_ = true;
  Watch& watch = watches_[kReading];
  StartWait(watch, DeadlineAfter(linger));
  std::array<char, 4096> sink;
  for (;;) {
    auto [read_ec, n] = co_await socket_.async_read_some(net::buffer(sink), kAsTuple);
    if (read_ec) break;
  }
  watch.waiting = false;
  Close();
}

void TlsChannel::Close() {
  // Shut down, not closed: the descriptor stays ours until the channel goes, so a read or write
  // still under way can never reach another connection that reused its number.
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket_.cancel(ignored);
}

}  // namespace fedra

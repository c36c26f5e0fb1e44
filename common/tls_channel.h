// One TLS 1.3 connection, driven through OpenSSL directly on a non-blocking socket.
//
// Asio's SSL stream moves one 16 KB record per asynchronous operation through its own buffers;
// at hundreds of megabytes a second that bookkeeping, not the cipher, was the limit. Here OpenSSL
// reads and writes the socket itself: reads run ahead into a large buffer (many records per
// system call), sealed records collect in a 256 KiB buffer that each Write flushes (many records
// per system call again), and Asio is only asked to wait until the socket is ready. Every wait
// has a deadline; a missed deadline closes the connection, and says whose it was.
//
// All calls must come from the socket's executor (a strand). One read and one write may be in
// progress at once (a reader and a writer coroutine); OpenSSL never runs on two threads at once.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/status.h"

namespace fedra {

using Duration = std::chrono::steady_clock::duration;
using Deadline = std::chrono::steady_clock::time_point;

inline Deadline DeadlineAfter(Duration d) {
  // Saturates: "ten years from now" must not wrap around.
  const auto now = std::chrono::steady_clock::now();
  return d >= Deadline::max() - now ? Deadline::max() : now + d;
}

class TlsChannel {
 public:
  enum class Side { kClient, kServer };

  // Takes the connected socket; the handshake is yet to run.
  TlsChannel(boost::asio::ip::tcp::socket socket, SSL_CTX* context, Side side);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Completes the handshake by `deadline`. kUnauthenticated when TLS refused the peer (a
  // certificate, a protocol); kUnavailable when the peer went away; kDeadlineExceeded.
  boost::asio::awaitable<Status> Handshake(Deadline deadline);

  // Reads exactly `out.size()` bytes. `first` bounds the wait for the first byte, `rest` the
  // wait for the remainder (an idle connection may wait long; a message once started may not).
  // `arrived`, when given, counts the bytes read, also when the read fails.
  boost::asio::awaitable<Status> Read(std::span<uint8_t> out, Deadline first, Deadline rest, size_t* arrived = nullptr);
  boost::asio::awaitable<Status> Read(std::span<uint8_t> out, Deadline deadline, size_t* arrived = nullptr) {
    return Read(out, deadline, deadline, arrived);
  }
  // Writes all of `data` by `deadline`. What is written waits in a buffer until a write that
  // flushes: kLater leaves it there for the next write (a frame's header for its body).
  enum class Flush { kNow, kLater };
  boost::asio::awaitable<Status> Write(std::span<const uint8_t> data, Deadline deadline, Flush flush = Flush::kNow);

  // Brings the deadline of a read in progress forward to `deadline` (no later than it was).
  void ShortenRead(Deadline deadline);

  // Stops sending and drains what the peer still sends for up to `linger`, so that a last error
  // message is read before the connection closes (closing with unread input resets it).
  boost::asio::awaitable<void> LingeringClose(Duration linger);
  // Ends the connection now; pending reads and writes fail with kUnavailable.
  void Close();
  bool closed() const { return closed_; }

  // What the socket BIO saw: the end of the stream, and the system's last error.
  struct BioSocket {
    int fd = -1;
    bool eof = false;
    int error = 0;
  };

  SSL* native_handle() { return ssl_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  enum Direction { kReading, kWriting };
  // Waits until OpenSSL's last call (which returned `ret`) can make progress; the error says
  // why not. `what` names the operation in errors.
  boost::asio::awaitable<Status> Await(int ret, Deadline deadline, Direction direction, const char* what);
  // Why a `direction` call found the channel closed.
  Status ClosedError(const char* what, Direction direction) const;
  // Waits until the socket is ready for `wait`.
  boost::asio::awaitable<Status> AwaitSocket(boost::asio::socket_base::wait_type wait, Deadline deadline,
                                             Direction direction, const char* what);

  // A wait's deadline, kept by a timer that is armed lazily: a later deadline (the usual case:
  // each wait's comes after the last one's) only moves `deadline`, and the timer, when it fires
  // early, arms itself again. Re-arming a timer for every wait cost system calls per message.
  struct Watch {
    explicit Watch(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    Deadline deadline = Deadline::max();  // of the wait in progress
    Deadline armed = Deadline::max();     // when the timer fires (max: not armed)
    bool waiting = false;
  };
  // A wait begins that must end by `deadline`.
  void StartWait(Watch& watch, Deadline deadline);
  void Arm(Watch& watch);

  boost::asio::ip::tcp::socket socket_;
  BioSocket bio_socket_;
  SSL* ssl_ = nullptr;
  Watch watches_[2];  // one per direction: a reader and a writer wait independently
  bool closed_ = false;
  std::optional<Direction> timed_out_;  // the direction whose deadline closed the channel
  bool lingering_ = false;              // in LingeringClose: its wait's end is no missed deadline
  // Timer handlers hold it weakly: one already queued when the channel goes finds it gone.
  std::shared_ptr<TlsChannel*> alive_ = std::make_shared<TlsChannel*>(this);
};

}  // namespace fedra

#include "tests/support/raw_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <doctest/doctest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace fedra::testing {
namespace net = boost::asio;

RawClient::RawClient(const TlsFiles& files, uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout), ctx_(net::ssl::context::tls_client) {
  SSL_CTX* native = ctx_.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (!files.cert.empty()) {
    SSL_CTX_use_certificate_chain_file(native, files.cert.c_str());
    SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM);
  }
}

Status RawClient::Connect() {
  stream_ = std::make_unique<net::ssl::stream<net::ip::tcp::socket>>(io_, ctx_);
  boost::system::error_code ec;
  stream_->lowest_layer().connect({net::ip::make_address("127.0.0.1"), port_}, ec);
  if (ec) return Unavailable("connect: " + ec.message());
  timeval tv{static_cast<time_t>(timeout_.count() / 1000), static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  const int fd = stream_->lowest_layer().native_handle();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  // A frame's header and body go out in two writes: without this, each request waits out the
  // peer's delayed acknowledgement.
  stream_->lowest_layer().set_option(net::ip::tcp::no_delay(true), ec);
  stream_->handshake(net::ssl::stream_base::client, ec);
  if (ec) return Unauthenticated("handshake: " + ec.message());
  return Status::Ok();
}

Status RawClient::Send(std::span<const uint8_t> bytes) {
  boost::system::error_code ec;
  net::write(*stream_, net::buffer(bytes.data(), bytes.size()), ec);
  return ec ? Unavailable("write: " + ec.message()) : Status::Ok();
}

Status RawClient::SendFrame(FrameKind kind, std::span<const uint8_t> body, uint64_t id) {
  const auto header = EncodeFrameHeader(kind, id, body.size());
  FEDRA_RETURN_IF_ERROR(Send(header));
  return Send(body);
}

Status RawClient::ReadExactly(void* data, size_t n) {
  boost::system::error_code ec;
  net::read(*stream_, net::buffer(data, n), ec);
  if (ec == net::error::would_block || ec == net::error::try_again || ec == net::error::timed_out) {
    return DeadlineExceeded("read timed out");
  }
  return ec ? Unavailable("read: " + ec.message()) : Status::Ok();
}

Result<Frame> RawClient::ReadFrame(uint64_t max_body) {
  std::array<uint8_t, kFrameHeaderBytes> header{};
  FEDRA_RETURN_IF_ERROR(ReadExactly(header.data(), header.size()));
  FEDRA_ASSIGN_OR_RETURN(FrameHeader h, DecodeFrameHeader(header, max_body));
  Frame frame{h.kind, h.id, Bytes(h.length)};
  FEDRA_RETURN_IF_ERROR(ReadExactly(frame.body.data(), frame.body.size()));
  return frame;
}

Result<ResponseBatch> RawClient::Call(const RequestBatch& batch) {
  FEDRA_RETURN_IF_ERROR(SendFrame(FrameKind::kRequestBatch, HeadBody(0, EncodeRequestBatch(batch)), batch.id));
  FEDRA_ASSIGN_OR_RETURN(Frame frame, ReadFrame());
  if (frame.kind == FrameKind::kError) return DecodeErrorBody(frame.body);
  FEDRA_ASSIGN_OR_RETURN(const uint64_t value_bytes, SplitHeadBody(&frame.body));
  if (value_bytes != 0) return FailedPrecondition("this test client reads no values sent out of line");
  ResponseBatch out;
  FEDRA_RETURN_IF_ERROR(DecodeResponseBatch(frame.body, &out));
  return out;
}

MasterSession::MasterSession(const TlsFiles& master, uint16_t port) : client_(master, port, std::chrono::seconds(20)) {
  const Status connected = client_.Connect();
  REQUIRE_MESSAGE(connected.ok(), connected.ToString());
}

std::vector<Response> MasterSession::Send(std::vector<Request> requests) {
  Result<ResponseBatch> r = client_.Call(RequestBatch{NewId(), std::move(requests)});
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->responses;
}

Response MasterSession::One(Request q) { return Send({std::move(q)}).at(0); }

VarId MasterSession::Read(const std::string& dataset, std::vector<std::string> columns) {
  const VarId v = NewId();
  const Response r = One(Request::Read(v, dataset, std::move(columns)));
  REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
  return v;
}

VarId MasterSession::Put(Matrix m) {
  const VarId v = NewId();
  REQUIRE(One(Request::Put(v, std::move(m))).status.ok());
  return v;
}

void RawClient::ShutdownSend() {
  boost::system::error_code ec;
  stream_->lowest_layer().shutdown(net::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace fedra::testing

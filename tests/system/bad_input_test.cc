// Bad input against a running site: garbage, truncated and oversized messages, and requests for
// things that do not exist or may not leave. Each gets a clear error, the site keeps answering,
// and its audit trail keeps every line.
#include <doctest/doctest.h>

#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "federated/instruction.h"
#include "tests/support/local_federation.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::RawClient;
using testing::TempDir;

struct BadInputSite {
  TempDir dir;
  LocalFederation local{dir.path(), {"a"}};
  TlsFiles master;

  BadInputSite() {
    local.EditConfig("a", [](nlohmann::json& c) {
      c["limits"]["max_message_bytes"] = 1 << 20;
      c["limits"]["max_response_bytes"] = 64 << 10;
      c["limits"]["read_timeout_s"] = 2;
    });
    local.AddCsvDataset("a", "agg", Matrix::Ones(30, 2), {"p", "q"}, "private-aggregate");
    local.AddCsvDataset("a", "secret", Matrix::Ones(30, 2), {"p", "q"}, "private");
    testing::WriteFile(local.kit("a") / "bad.csv", "p,q\n1,2\n3,4\n5,oops\n");
    local.AddDataset("a", "bad", "bad.csv", "public");
    local.StartAll();
    master = local.master_tls();
  }

  std::unique_ptr<RawClient> Connected() {
    auto c = std::make_unique<RawClient>(master, local.port("a"), std::chrono::seconds(10));
    REQUIRE(c->Connect().ok());
    return c;
  }

  Response One(Request q) {
    auto c = Connected();
    Result<ResponseBatch> r = c->Call(RequestBatch{9, {std::move(q)}});
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    REQUIRE(r->responses.size() == 1);
    return r->responses[0];
  }

  void CheckStillServing() {
    Response pong = One(Request::Ping());
    CHECK(pong.status.ok());
    CHECK(pong.meta["site"] == "a");
  }

  std::vector<nlohmann::json> Audit() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(testing::ReadFile(local.audit_log("a")));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      CHECK_MESSAGE(!j.is_discarded(), "audit line is not JSON: ", line);
      lines.push_back(j);
    }
    return lines;
  }
};

}  // namespace

TEST_CASE("malformed messages get a clear error and the site keeps serving") {
  BadInputSite site;

  SUBCASE("garbage bytes") {
    auto c = site.Connected();
    const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(c->Send({reinterpret_cast<const uint8_t*>(junk.data()), junk.size()}).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    CHECK(f->kind == FrameKind::kError);
    CHECK(DecodeErrorBody(f->body).message().find("bad magic") != std::string::npos);
    CHECK_FALSE(c->ReadFrame().ok());  // then the site closed the connection
  }
  SUBCASE("an oversized message is refused before its body is read") {
    auto c = site.Connected();
    auto header = EncodeFrameHeader(FrameKind::kRequestBatch, 1, 1 << 30);
    REQUIRE(c->Send(header).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    Status s = DecodeErrorBody(f->body);
    CHECK(s.code() == StatusCode::kResourceExhausted);
    CHECK(s.message().find("exceeds the limit of 1048576") != std::string::npos);
  }
  SUBCASE("a message cut short is dropped at the read deadline, not waited on forever") {
    auto c = site.Connected();
    auto header = EncodeFrameHeader(FrameKind::kRequestBatch, 1, 1000);
    REQUIRE(c->Send(header).ok());
    const Bytes part(10, 0);
    REQUIRE(c->Send(part).ok());
    const auto start = std::chrono::steady_clock::now();
    Result<Frame> f = c->ReadFrame();
    CHECK_FALSE(f.ok());
    CHECK(f.status().code() == StatusCode::kUnavailable);  // closed by the site, not our timeout
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));
    CHECK(testing::WaitFor(
        [&] { return testing::ReadFile(site.local.log("a")).find("10 of 1000 bytes arrived") != std::string::npos; },
        std::chrono::seconds(5)));
  }
  SUBCASE("a batch truncated inside a well-framed message") {
    auto c = site.Connected();
    Bytes body = EncodeRequestBatch(RequestBatch{1, {Request::Put(5, Matrix::Ones(8, 8))}});
    body.resize(body.size() - 100);
    REQUIRE(c->SendFrame(FrameKind::kRequestBatch, HeadBody(0, body)).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    Status s = DecodeErrorBody(f->body);
    CHECK(s.code() == StatusCode::kDataLoss);
    CHECK(s.message().find("malformed request batch") != std::string::npos);
    CHECK(s.message().find("truncated") != std::string::npos);
    // The frame boundary held, so the same connection still works.
    Result<ResponseBatch> pong = c->Call(RequestBatch{2, {Request::Ping()}});
    CHECK(pong.ok());
  }
  site.CheckStillServing();
}

TEST_CASE("a batch's answers are bounded: sixty audit requests do not make a response of megabytes") {
  BadInputSite site;
  for (int i = 0; i < 40; ++i) (void)site.One(Request::Get(424242));  // 40 audited failures
  auto c = site.Connected();
  RequestBatch batch{3, {}};
  for (int i = 0; i < 60; ++i) batch.requests.push_back(Request::Audit(10000));
  Result<ResponseBatch> r = c->Call(batch);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  size_t answered = 0, refused = 0, bytes = 0;
  for (const Response& a : r->responses) {
    if (a.status.ok()) {
      ++answered;
      bytes += a.meta.dump().size();
    } else {
      ++refused;
      CHECK(a.status.code() == StatusCode::kResourceExhausted);
      CHECK(a.status.message().find("limits.max_response_bytes") != std::string::npos);
    }
  }
  CHECK(answered >= 1);
  CHECK(refused >= 1);
  CHECK(bytes <= (64u << 10));
  site.CheckStillServing();
}

TEST_CASE("a header that declares a large body and sends none costs the site little memory") {
  TempDir dir;
  LocalFederation local{dir.path(), {"a"}};
  local.EditConfig("a", [](nlohmann::json& c) {
    c["limits"]["max_message_bytes"] = 256 << 20;
    c["limits"]["read_timeout_s"] = 2;
  });
  local.StartAll();
  const uint64_t before = testing::PeakResidentBytes(local.process("a").pid());
  // Four connections each declare 200 MiB and send one byte; the site drops them at its deadline.
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>(local.master_tls(), local.port("a"), std::chrono::seconds(10)));
    REQUIRE(clients.back()->Connect().ok());
    REQUIRE(clients.back()->Send(EncodeFrameHeader(FrameKind::kRequestBatch, 1, 200 << 20)).ok());
    REQUIRE(clients.back()->Send(Bytes(1, 0)).ok());
  }
  auto dropped = [&] {
    const std::string log = testing::ReadFile(local.log("a"));
    size_t n = 0;
    for (size_t at = log.find("1 of 209715200 bytes arrived"); at != std::string::npos;
         at = log.find("1 of 209715200 bytes arrived", at + 1)) {
      ++n;
    }
    return n == 4;
  };
  REQUIRE(testing::WaitFor(dropped, std::chrono::seconds(10)));
  // Allocating the declared bodies would have added 800 MiB.
  const uint64_t peak = testing::PeakResidentBytes(local.process("a").pid());
  CHECK_MESSAGE(peak < before + (64u << 20), "peak RSS grew from " << before << " to " << peak << " bytes");
}

TEST_CASE("bad requests get errors that say what happened, and the audit trail keeps them all") {
  BadInputSite site;
  const size_t before = site.Audit().size();

  Response unknown = site.One(Request::Read(1, "nope"));
  CHECK(unknown.status.code() == StatusCode::kNotFound);
  CHECK(unknown.status.message().find("unknown dataset 'nope'") != std::string::npos);

  Response traversal = site.One(Request::Read(1, "../../etc/passwd"));
  CHECK(traversal.status.code() == StatusCode::kInvalidArgument);
  CHECK(traversal.status.message().find("is not a dataset name") != std::string::npos);

  Response no_var = site.One(Request::Get(424242));
  CHECK(no_var.status.code() == StatusCode::kNotFound);
  CHECK(no_var.status.message() == "unknown variable 424242");

  Response cell = site.One(Request::Read(2, "bad"));
  CHECK(cell.status.code() == StatusCode::kDataLoss);
  CHECK(cell.status.message().find("line 4, column 2 (\"q\")") != std::string::npos);
  CHECK(cell.status.message().find("oops") != std::string::npos);

  {
    auto c = site.Connected();
    Result<ResponseBatch> r = c->Call(
        RequestBatch{3, {Request::Read(3, "secret"), Request::Get(3), Request::Run(0, Op::kColSums, {3}, true)}});
    REQUIRE(r.ok());
    CHECK(r->responses[0].status.ok());
    CHECK(r->responses[1].status.code() == StatusCode::kPermissionDenied);
    CHECK(r->responses[1].status.message().find("'secret' is private") != std::string::npos);
    CHECK(r->responses[2].status.code() == StatusCode::kPermissionDenied);
    CHECK_FALSE(r->responses[1].value.has_value());
  }
  site.CheckStillServing();

  std::vector<nlohmann::json> audit = site.Audit();
  REQUIRE(audit.size() == before + 7);  // ping is not audited
  int refused = 0;
  for (const auto& line : audit) {
    if (line["allowed"] == false) {
      ++refused;
      CHECK(line["dataset"] == "secret");
      CHECK(line["bytes_out"] == 0);
    }
  }
  CHECK(refused == 2);
  CHECK(audit.back()["reason"].get<std::string>().find("permission_denied") == 0);
}

TEST_CASE("a site out of file descriptors backs off, says so once, and serves again when they free up") {
  TempDir dir;
  LocalFederation local{dir.path(), {"a"}};
  local.EditConfig("a", [](nlohmann::json& c) { c["limits"]["read_timeout_s"] = 3; });  // for a handshake too
  local.launch_prefix["a"] = {"/usr/bin/prlimit", "--nofile=64"};
  local.StartAll();
  auto count = [&](const std::string& text) {
    const std::string log = testing::ReadFile(local.log("a"));
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  // Connections that never speak: each takes one of the site's 64 descriptors once accepted,
  // until its handshake deadline drops it.
  boost::asio::io_context io;
  const boost::asio::ip::tcp::endpoint site(boost::asio::ip::address_v4::loopback(), local.port("a"));
  std::vector<boost::asio::ip::tcp::socket> held;
  for (int i = 0; i < 80; ++i) {
    held.emplace_back(io);
    held.back().connect(site);
  }
  REQUIRE_MESSAGE(testing::WaitFor([&] { return count("accept failed") > 0; }, std::chrono::seconds(10)),
                  testing::ReadFile(local.log("a")));
  // The deadlines free descriptors while the connections are still held, and the site, which
  // retried all the while, accepts again.
  REQUIRE_MESSAGE(testing::WaitFor([&] { return count("accepting connections again") > 0; }, std::chrono::seconds(20)),
                  testing::ReadFile(local.log("a")));
  const std::string log = testing::ReadFile(local.log("a"));
  // One warning per streak of failures, however many attempts failed in it.
  CHECK(count("Too many open files; retrying with backoff") == count("accepting connections again"));
  const size_t after = log.find("accepting connections again after ");
  CHECK(std::stoi(log.substr(after + std::string("accepting connections again after ").size())) >= 2);
  held.clear();
  RawClient client(local.master_tls(), local.port("a"));
  REQUIRE(client.Connect().ok());
  Result<ResponseBatch> pong = client.Call(RequestBatch{1, {Request::Ping()}});
  REQUIRE_MESSAGE(pong.ok(), pong.status().ToString());
  CHECK(pong->responses[0].status.ok());
}

}  // namespace fedra

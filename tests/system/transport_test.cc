// The transport between master and site, over real processes and mutual TLS: values larger than
// a frame stream in chunks straight into place, batches from several threads share one link
// without waiting on each other, and a peer that sends a malformed or stalled stream, or stops
// reading one, is cut off with a clear error while the site keeps serving.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/local_federation.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::TempDir;

// One site whose frames may be at most 1 MiB: every value here is many chunks.
struct OneSite {
  TempDir dir;
  LocalFederation local{dir.path(), {"a"}};

  OneSite() {
    local.EditConfig("a", [](nlohmann::json& c) {
      c["limits"]["max_message_bytes"] = 1 << 20;
      c["limits"]["read_timeout_s"] = 2;
    });
    local.StartAll();
  }

  std::unique_ptr<testing::RawClient> Raw() {
    auto c = std::make_unique<testing::RawClient>(local.master_tls(), local.port("a"), std::chrono::seconds(10));
    REQUIRE(c->Connect().ok());
    return c;
  }

  void CheckStillServing() {
    auto fed = local.Connect();
    CHECK(FirstError(fed->CallAll({Request::Ping()})).ok());
  }
};

// A head whose value follows out of line, as fedra's master would send it.
Bytes PutHead(uint64_t id, const Matrix& m) {
  OutgoingValues values;
  Bytes head = EncodeRequestBatch(RequestBatch{id, {Request::Put(id, m)}}, &values);
  REQUIRE(values.size() == 1);
  return HeadBody(MatrixBytes(m), head);
}

}  // namespace

TEST_CASE("a value of many frames streams into place and back, holding no more than itself") {
  std::mutex mu;  // before the federation, which outlives neither
  std::vector<std::pair<std::string, TransferProgress>> told;
  OneSite site;
  auto fed = site.local.Connect();
  fed->transfer_watch().Set([&](const std::string& site_name, const TransferProgress& p) {
    std::lock_guard lock(mu);
    told.emplace_back(site_name, p);
  });
  const pid_t pid = site.local.process("a").pid();
  const uint64_t before = testing::PeakResidentBytes(pid);
  const Matrix m = Matrix::Random(10'000'000 / 100, 100) * 1e6;  // 80 MB: 77 chunks of 1 MiB
  const VarId var = fed->NewVarId();
  REQUIRE(FirstError(fed->CallAll({Request::Put(var, m)})).ok());
  SiteResponses got = fed->CallAll({Request::Get(var)});
  REQUIRE(FirstError(got).ok());
  CHECK(*(*got.at("a"))[0].value == m);  // every bit
  // Built whole, the put would have held the batch, its decoded matrix and the site's copy.
  const uint64_t peak = testing::PeakResidentBytes(pid);
  CHECK_MESSAGE(peak - before < MatrixBytes(m) * 3 / 2, "the site's peak RSS grew by "
                                                            << (peak - before) << " bytes for a " << MatrixBytes(m)
                                                            << "-byte value");
  // Long transfers say how they went: to the master's watcher (a job's run), and in the log.
  {
    std::lock_guard lock(mu);
    REQUIRE(told.size() >= 2);
    for (const bool sending : {true, false}) {
      auto it = std::find_if(told.begin(), told.end(), [&](const auto& t) { return t.second.sending == sending; });
      REQUIRE(it != told.end());
      CHECK(it->first == "a");
      CHECK(it->second.total == MatrixBytes(m));
    }
    CHECK(told.back().second.done == told.back().second.total);
  }
  fed->transfer_watch().Set({});
  CHECK(testing::WaitFor(
      [&] { return testing::ReadFile(site.local.log("a")).find("80.0 of 80.0 MB in") != std::string::npos; },
      std::chrono::seconds(5)));
}

TEST_CASE("batches from several threads share the link: a small one overtakes a large one") {
  OneSite site;
  auto fed = site.local.Connect();
  const Matrix big = Matrix::Random(4'000'000, 10);  // 320 MB a get
  const VarId var = fed->NewVarId();
  REQUIRE(FirstError(fed->CallAll({Request::Put(var, big)})).ok());

  std::atomic<int> gets_done{0};
  std::atomic<bool> getting{false};
  std::thread large([&] {
    for (int i = 0; i < 3; ++i) {
      getting = true;
      CHECK(FirstError(fed->CallAll({Request::Get(var)})).ok());
      getting = false;
      ++gets_done;
    }
  });
  // A ping that starts and ends within one get was answered while the get's chunks flowed.
  int overtook = 0, pings = 0;
  while (gets_done < 3) {
    const int during = gets_done;
    const bool started_during_get = getting;
    REQUIRE(FirstError(fed->CallAll({Request::Ping()})).ok());
    ++pings;
    if (started_during_get && getting && gets_done == during) ++overtook;
  }
  large.join();
  MESSAGE(overtook << " of " << pings << " pings were answered during a 320 MB get");
  CHECK(overtook >= 3);
}

TEST_CASE("a malformed or stalled value stream is refused with a clear error, and the site keeps serving") {
  OneSite site;
  const Matrix m = Matrix::Random(125, 100);  // 100,000 bytes

  SUBCASE("a chunk for a message that declared no values") {
    auto c = site.Raw();
    REQUIRE(c->SendFrame(FrameKind::kValueChunk, Bytes(100, 1), 77).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    CHECK(f->kind == FrameKind::kError);
    const Status s = DecodeErrorBody(f->body);
    CHECK(s.code() == StatusCode::kDataLoss);
    CHECK_MESSAGE(
        s.message().find("a value chunk for message 77, which has no values still to come") != std::string::npos,
        s.message());
  }
  SUBCASE("a chunk longer than the values still to come") {
    auto c = site.Raw();
    REQUIRE(c->SendFrame(FrameKind::kRequestBatch, PutHead(5, m), 5).ok());
    REQUIRE(c->SendFrame(FrameKind::kValueChunk, Bytes(150'000, 1), 5).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    const Status s = DecodeErrorBody(f->body);
    CHECK_MESSAGE(s.message().find("which has only 100000 bytes of values still to come") != std::string::npos,
                  s.message());
  }
  SUBCASE("a chunk larger than a frame may be") {
    auto c = site.Raw();
    REQUIRE(c->Send(EncodeFrameHeader(FrameKind::kValueChunk, 5, 2 << 20)).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    CHECK(DecodeErrorBody(f->body).code() == StatusCode::kResourceExhausted);
  }
  SUBCASE("a head refused before its values are placed: the values are skipped, the link stays in step") {
    auto c = site.Raw();
    OutgoingValues values;
    Bytes head = EncodeRequestBatch(RequestBatch{8, {Request::Ping(), Request::Put(9, m)}}, &values);
    head[12] = 99;  // the first request's type, ahead of the value that goes out of line
    REQUIRE(c->SendFrame(FrameKind::kRequestBatch, HeadBody(MatrixBytes(m), head), 8).ok());
    const Bytes chunk(values[0].begin(), values[0].end());
    REQUIRE(c->SendFrame(FrameKind::kValueChunk, chunk, 8).ok());
    Result<Frame> f = c->ReadFrame();
    REQUIRE(f.ok());
    CHECK(f->kind == FrameKind::kError);
    CHECK(f->id == 8);
    CHECK(DecodeErrorBody(f->body).message().find("unknown request type 99") != std::string::npos);
    Result<ResponseBatch> pong = c->Call(RequestBatch{10, {Request::Ping()}});
    CHECK_MESSAGE(pong.ok(), pong.status().ToString());
  }
  SUBCASE("a stream that stalls halfway is cut off at the read deadline") {
    auto c = site.Raw();
    REQUIRE(c->SendFrame(FrameKind::kRequestBatch, PutHead(6, m), 6).ok());
    REQUIRE(c->SendFrame(FrameKind::kValueChunk, Bytes(50'000, 1), 6).ok());
    const auto start = std::chrono::steady_clock::now();
    Result<Frame> f = c->ReadFrame();  // the site closes the connection
    CHECK_FALSE(f.ok());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));
    CHECK(testing::WaitFor(
        [&] { return testing::ReadFile(site.local.log("a")).find("deadline exceeded") != std::string::npos; },
        std::chrono::seconds(5)));
  }
  SUBCASE("a reader that stops reading halfway through a response is cut off at the write deadline") {
    auto fed = site.local.Connect();
    const VarId var = fed->NewVarId();
    // 64 MB: far more than the sockets' buffers hold, so the site's writes must wait on the reader.
    REQUIRE(FirstError(fed->CallAll({Request::Put(var, Matrix::Random(800'000, 10))})).ok());
    auto c = site.Raw();
    REQUIRE(c->SendFrame(FrameKind::kRequestBatch,
                         HeadBody(0, EncodeRequestBatch(RequestBatch{11, {Request::Get(var)}})), 11)
                .ok());
    const bool cut_off = testing::WaitFor(
        [&] {
          return testing::ReadFile(site.local.log("a"))
                     .find("connection closed: a write waited past its deadline for the peer to read") !=
                 std::string::npos;
        },
        std::chrono::seconds(10));
    CHECK_MESSAGE(cut_off, testing::ReadFile(site.local.log("a")));
  }
  site.CheckStillServing();
}

}  // namespace fedra

// Transport benchmark over mutual TLS on loopback, against a real fedra-site process: round trips
// of tiny requests, the transfer rates of a 100 MB matrix GET and PUT, and a ping's round trip
// while another thread's large gets stream on the same link. The baselines, measured in the same run,
// are this machine's OpenSSL AES-256-GCM encryption rate on one core (a TLS transfer cannot beat
// it) and plain TCP over loopback, which with the cipher bounds what a TLS get can reach here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/allocator.h"
#include "tests/support/cipher_speed.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

// Plain TCP over loopback, no encryption: `bytes` sent from one thread in 1 MiB writes and read by
// another into one buffer, the best of three. What the transport would reach with a free cipher.
double PlainTcpMBps(size_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("plain TCP baseline");
    std::exit(1);
  }
  constexpr int kReps = 3;
  std::thread sender([&] {
    const int s = ::accept(listener, nullptr, nullptr);
    const std::vector<char> data(bytes, 0x5a);
    for (int rep = 0; rep < kReps; ++rep) {
      for (size_t sent = 0; sent < bytes;) {
        const ssize_t n = ::send(s, data.data() + sent, std::min<size_t>(1 << 20, bytes - sent), MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
    }
    ::close(s);
  });
  const int r = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(r, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("plain TCP baseline");
    std::exit(1);
  }
  std::vector<char> into(bytes);
  double best = 0;
  for (int rep = 0; rep < kReps; ++rep) {
    const auto start = Clock::now();
    for (size_t got = 0; got < bytes;) {
      const ssize_t n = ::recv(r, into.data() + got, bytes - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    best = std::max(best, bytes / 1e6 / std::chrono::duration<double>(Clock::now() - start).count());
  }
  sender.join();
  ::close(r);
  ::close(listener);
  return best;
}

// Median and 99th percentile round trip, in microseconds, of `n` calls of `request`.
std::pair<double, double> RoundTrip(fedra::Federation& fed, const fedra::Request& request, int n) {
  std::vector<double> micros;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    const fedra::Status s = fedra::FirstError(fed.CallAll({request}));
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!s.ok()) {
      std::fprintf(stderr, "%s failed: %s\n", std::string(RequestTypeName(request.type)).c_str(), s.ToString().c_str());
      std::exit(1);
    }
  }
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100]};
}

}  // namespace

int main() {
  using namespace fedra;
  KeepLargeBuffersForReuse();  // as fedra-master does
  testing::TempDir dir("fedra-bench");
  testing::LocalFederation local(dir.path(), {"a"});
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(120));

  // Round trips on a warm connection: a ping (answered on the site's I/O thread) and a get of a
  // 1 x 1 variable (which, like every batch that does work, runs on the site's compute pool).
  (void)fed->CallAll({Request::Ping()});
  const VarId one = fed->NewVarId();
  if (!FirstError(fed->CallAll({Request::Put(one, Matrix::Ones(1, 1))})).ok()) return 1;
  const auto [ping, ping_p99] = RoundTrip(*fed, Request::Ping(), 2000);
  const auto [get, get_p99] = RoundTrip(*fed, Request::Get(one), 2000);
  std::printf(
      "tiny request round trip (mutual TLS, loopback, 2000 calls): ping median %.0f us (p99 %.0f us); "
      "get of a 1 x 1 value median %.0f us (p99 %.0f us)\n",
      ping, ping_p99, get, get_p99);

  // 100 MB matrix get: put once (public), then time the gets.
  const Eigen::Index rows = 100'000'000 / 8 / 100;
  Matrix m = Matrix::Random(rows, 100);
  const VarId var = fed->NewVarId();
  Status put = FirstError(fed->CallAll({Request::Put(var, m)}));
  if (!put.ok()) {
    std::fprintf(stderr, "put failed: %s\n", put.ToString().c_str());
    return 1;
  }
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    SiteResponses r = fed->CallAll({Request::Get(var)});
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (!FirstError(r).ok() || (*r.at("a"))[0].value->size() != m.size()) return 1;
    best = std::max(best, MatrixBytes(m) / 1e6 / secs);
  }
  const double aes = testing::AesGcmMBps(MatrixBytes(m));
  const double tcp = PlainTcpMBps(MatrixBytes(m));
  std::printf("100 MB matrix get: %.0f MB/s; OpenSSL AES-256-GCM on one core: %.0f MB/s; ratio %.2f\n", best, aes,
              best / aes);
  // A TLS get costs what plain TCP costs plus the cipher at each end. With one thread per end, or
  // both ends sharing two cores that plain TCP keeps busy (as here), a byte takes about
  // 1/AES + 1/TCP of wall time.
  const double bound = 1 / (1 / aes + 1 / tcp);
  std::printf(
      "plain TCP over loopback, same 100 MB, no encryption: %.0f MB/s (the get is %.2f of it); cipher plus plain "
      "TCP bound the get at %.0f MB/s, %.2f of AES-256-GCM (the get is %.2f of that bound)\n",
      tcp, best / tcp, bound, bound / aes, best / bound);

  // 100 MB matrix put: each into a new variable, so the site receives into memory it has not
  // held before, as a put does. The request's copy of the matrix is made before the clock starts,
  // and moved into its batch; the variable is cleared after the clock stops.
  double best_put = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const VarId put_var = fed->NewVarId();
    SiteRequests batch;
    batch["a"].push_back(Request::Put(put_var, m));
    const auto start = Clock::now();
    Status s = FirstError(fed->Call(std::move(batch)));
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    fed->Release("a", put_var);
    if (s.ok()) s = fed->FlushReleases();
    if (!s.ok()) {
      std::fprintf(stderr, "put failed: %s\n", s.ToString().c_str());
      return 1;
    }
    best_put = std::max(best_put, MatrixBytes(m) / 1e6 / secs);
  }
  std::printf("100 MB matrix put, each into a new variable: %.0f MB/s; ratio to AES-256-GCM %.2f\n", best_put,
              best_put / aes);

  // Many batches in flight on one link: pings from this thread while another thread's 100 MB
  // gets stream, whose chunks take turns with the pings' answers.
  std::atomic<bool> done{false};
  std::thread large([&] {
    while (!done) (void)fed->CallAll({Request::Get(var)});
  });
  const auto [busy, busy_p99] = RoundTrip(*fed, Request::Ping(), 200);
  done = true;
  large.join();
  std::printf(
      "ping round trip while another thread's 100 MB gets stream on the same link: median %.0f us "
      "(p99 %.0f us); %.1fx the idle ping\n",
      busy, busy_p99, busy / ping);
  return 0;
}

// A TCP proxy on loopback between the master and one site, for tests of faults on the wire (the
// kernel here has no netem). It forwards bytes both ways and, when told to, delays them, limits
// their rate, holds them (a stall), resets every connection, or cuts the site off (a partition:
// data in flight is held and new connections are accepted but never forwarded, as behind a dead
// route). TLS passes through untouched: the master still checks the site's certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace fedra::testing {

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (a port the OS picks) and forwards to target_host:target_port.
  FaultProxy(const std::string& target_host, uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }

  // Each byte arrives `one_way` later than it was sent, both ways (a round trip gains twice
  // that); bytes behind it are not held up by more than that.
  void SetLatency(std::chrono::milliseconds one_way);
  // At most this many bytes per second each way; 0: unlimited.
  void SetBandwidth(uint64_t bytes_per_second);
  // While stalled, nothing is forwarded; held bytes go on afterwards.
  void SetStalled(bool stalled);
  // While partitioned, nothing is forwarded and new connections go nowhere; healing closes those.
  void SetPartitioned(bool partitioned);
  // Resets (RST) every open connection, both sides.
  void ResetConnections();
  // Connections accepted so far.
  uint64_t connections() const;

  struct State;  // the sockets and settings (fault_proxy.cc), used on the proxy's one thread

 private:
  // Runs `f` on the proxy's thread and waits for it.
  template <typename F>
  void OnProxyThread(F f);

  std::unique_ptr<State> state_;
  uint16_t port_ = 0;
  std::thread io_thread_;
};

}  // namespace fedra::testing

// How far a long transfer (one message's values, 64 MiB or more) has come: logged every few
// seconds and at the end, and told to whoever watches the link (a job's run shows it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace fedra {

struct TransferProgress {
  bool sending = false;  // else receiving
  uint64_t done = 0, total = 0;
  double seconds = 0;

  // "receiving 52.4 of 100.0 MB in 0.5 s (105 MB/s)"
  std::string Describe() const;
};

using TransferObserver = std::function<void(const TransferProgress&)>;

// Counts one message's bytes as they move. Transfers smaller than kReportedBytes are not reported.
class TransferMeter {
 public:
  static constexpr uint64_t kReportedBytes = 64ull << 20;
  static constexpr std::chrono::seconds kReportEvery{5};

  // `what` names the message and the peer in the log; `observer` may be empty.
  TransferMeter(std::string what, bool sending, uint64_t total, const TransferObserver* observer)
      : what_(std::move(what)), observer_(observer) {
    progress_.sending = sending;
    progress_.total = total;
  }

  void Add(uint64_t n);

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_;
  const TransferObserver* observer_;
  TransferProgress progress_;
  Clock::time_point start_ = Clock::now(), last_report_ = start_;
};

}  // namespace fedra

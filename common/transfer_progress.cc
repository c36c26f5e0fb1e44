#include "common/transfer_progress.h"

#include <cstdio>

#include "common/logging.h"

namespace fedra {

std::string TransferProgress::Describe() const {
  char line[160];
  std::snprintf(line, sizeof(line), "%s %.1f of %.1f MB in %.1f s (%.0f MB/s)", sending ? "sending" : "receiving",
                done / 1e6, total / 1e6, seconds, seconds > 0 ? done / 1e6 / seconds : 0.0);
  return line;
}

void TransferMeter::Add(uint64_t n) {
  progress_.done += n;
  if (progress_.total < kReportedBytes) return;
  const auto now = Clock::now();
  if (progress_.done != progress_.total && now - last_report_ < kReportEvery) return;
  last_report_ = now;
  progress_.seconds = std::chrono::duration<double>(now - start_).count();
  FEDRA_LOG(kInfo) << what_ << ": " << progress_.Describe();
  if (observer_ && *observer_) (*observer_)(progress_);
}

}  // namespace fedra

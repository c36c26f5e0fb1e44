// A child process for multi-process tests: spawned with its output sent to a log file, stopped
// with a signal, waited for with a deadline, and killed if still running on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fedra::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv[0] with stdout and stderr appended to `log`. Throws when it cannot.
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void Signal(int sig) const;

  // The exit status (or 128 + signal) once it ends within `timeout`; nullopt if it did not.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  // True when every thread of the process is stopped (SIGSTOP has taken effect).
  bool Stopped() const;

  // SIGKILL and reap.
  void Kill();

 private:
  pid_t pid_ = -1;
};

// Polls `condition` every few milliseconds until it is true or `timeout` passes.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec ts {
      0, 5'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return true;
}

// The process's peak resident memory so far (VmHWM), in bytes; 0 when it cannot be read.
uint64_t PeakResidentBytes(pid_t pid);

// The CPU time the process has used so far, user and system, in seconds; 0 when it cannot be read.
double CpuSeconds(pid_t pid);

}  // namespace fedra::testing

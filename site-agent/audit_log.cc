#include "site-agent/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace fedra {
Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable(path.string() + ": cannot open audit log: " + std::strerror(errno));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(fd, path));
}

AuditLog::~AuditLog() { ::close(fd_); }

Status AuditLog::Append(const AuditEvent& event) {
  nlohmann::json line = {{"time", UtcTimestamp()},
                         {"peer", event.peer},
                         {"request", event.request},
                         {"allowed", event.allowed},
                         {"bytes_out", event.bytes_out}};
  if (!event.dataset.empty()) line["dataset"] = event.dataset;
  if (!event.variables.empty()) line["variables"] = event.variables;
  if (!event.reason.empty()) line["reason"] = event.reason;
  // Replace invalid UTF-8 (from a peer's bytes) instead of throwing.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

  std::lock_guard lock(mu_);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(path_.string() + ": audit write failed: " + std::strerror(errno));
    written += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace fedra

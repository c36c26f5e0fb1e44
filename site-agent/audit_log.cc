#include "site-agent/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace fedra {
namespace {

Result<int> OpenForAppend(const std::filesystem::path& path, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(path.string() + ": cannot open audit log: " + std::strerror(errno));
  struct stat st;
  *size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return fd;
}

std::filesystem::path Numbered(const std::filesystem::path& path, int n) {
  std::filesystem::path p = path;
  p += "." + std::to_string(n);
  return p;
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& path, AuditRotation rotation) {
  uint64_t size = 0;
  FEDRA_ASSIGN_OR_RETURN(const int fd, OpenForAppend(path, &size));
  return std::unique_ptr<AuditLog>(new AuditLog(fd, size, path, rotation));
}

AuditLog::~AuditLog() { ::close(fd_); }

Status AuditLog::Rotate() {
  auto failed = [&](const std::error_code& ec) {
    return Unavailable(path_.string() + ": cannot rotate the audit log: " + ec.message());
  };
  std::error_code ec;
  std::filesystem::remove(Numbered(path_, rotation_.keep), ec);
  if (ec) return failed(ec);
  for (int n = rotation_.keep - 1; n >= 1; --n) {
    if (!std::filesystem::exists(Numbered(path_, n))) continue;
    std::filesystem::rename(Numbered(path_, n), Numbered(path_, n + 1), ec);
    if (ec) return failed(ec);
  }
  if (rotation_.keep > 0) {
    std::filesystem::rename(path_, Numbered(path_, 1), ec);
  } else {
    std::filesystem::remove(path_, ec);
  }
  if (ec) return failed(ec);
  uint64_t size = 0;
  FEDRA_ASSIGN_OR_RETURN(const int fd, OpenForAppend(path_, &size));
  ::close(fd_);
  fd_ = fd;
  size_ = size;
  FEDRA_LOG(kInfo) << "audit log rotated: " << path_.string() << " begun anew";
  return Status::Ok();
}

namespace {

std::string_view OutcomeName(AuditOutcome outcome) {
  switch (outcome) {
    case AuditOutcome::kDone: return "done";
    case AuditOutcome::kRefused: return "refused";
    case AuditOutcome::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace

Status AuditLog::Append(const AuditEvent& event) {
  // "allowed": false exactly for refusals, so a grep for them finds every one.
  nlohmann::json line = {{"time", UtcTimestamp()},
                         {"peer", event.peer},
                         {"request", event.request},
                         {"outcome", OutcomeName(event.outcome)},
                         {"allowed", event.outcome != AuditOutcome::kRefused},
                         {"bytes_out", event.bytes_out}};
  if (!event.dataset.empty()) line["dataset"] = event.dataset;
  if (!event.variables.empty()) line["variables"] = event.variables;
  if (!event.reason.empty()) line["reason"] = event.reason;
  if (!event.noise.is_null()) line["noise"] = event.noise;
  // Replace invalid UTF-8 (from a peer's bytes) instead of throwing.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

  std::lock_guard lock(mu_);
  if (size_ > 0 && size_ + text.size() > rotation_.max_bytes) {
    // A trail that cannot rotate keeps growing rather than losing lines.
    if (Status s = Rotate(); !s.ok()) FEDRA_LOG(kError) << s.message() << "; writing on to the current file";
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(path_.string() + ": audit write failed: " + std::strerror(errno));
    written += static_cast<size_t>(n);
  }
  size_ += written;
  return Status::Ok();
}

Result<std::vector<nlohmann::json>> AuditLog::Tail(size_t limit, const std::string& peer) const {
  std::string text;
  {
    std::lock_guard lock(mu_);  // no half-written line at the end
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Unavailable(path_.string() + ": cannot read audit log: " + std::strerror(errno));
    const off_t size = ::lseek(fd, 0, SEEK_END);
    const off_t start = size > static_cast<off_t>(kTailBytes) ? size - static_cast<off_t>(kTailBytes) : 0;
    text.resize(static_cast<size_t>(size - start));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, start + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    text.resize(got);
    if (start > 0) {  // drop the partial first line
      const size_t newline = text.find('\n');
      text.erase(0, newline == std::string::npos ? text.size() : newline + 1);
    }
  }
  std::vector<std::string_view> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    const size_t stop = end == std::string::npos ? text.size() : end;
    if (stop > at) lines.emplace_back(text.data() + at, stop - at);
    at = stop + 1;
  }
  std::vector<nlohmann::json> events;
  for (size_t i = lines.size(); i > 0 && events.size() < limit; --i) {
    nlohmann::json event = nlohmann::json::parse(lines[i - 1], nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || (!peer.empty() && event.value("peer", "") != peer)) continue;
    events.push_back(std::move(event));
  }
  std::reverse(events.begin(), events.end());
  return events;
}

}  // namespace fedra

// The site's append-only audit trail: one JSON line per request (and per refused connection),
// saying who asked what, which variables it touched, how many bytes left the site, and whether
// it was done, refused or failed — and if not done, why. Lines are written whole with O_APPEND, so a crash never
// leaves a half line between two good ones.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "federated/protocol.h"

namespace fedra {

// What became of a request: done, refused by the site's policy (privacy, allowed masters), or
// failed for another reason (a bad request, a dataset that cannot be read).
enum class AuditOutcome : uint8_t { kDone, kRefused, kFailed };

struct AuditEvent {
  std::string peer;     // "master 'm'" or the remote address of a refused connection
  std::string request;  // "read", "get", "exec colSums", "connect", ...
  std::string dataset;  // when the request names or derives from one
  std::vector<VarId> variables;
  uint64_t bytes_out = 0;  // bytes of values that left the site
  AuditOutcome outcome = AuditOutcome::kDone;
  // Why it was refused or failed; empty when it was done. Never holds data: the messages it
  // comes from name what is wrong, not the values.
  std::string reason;
  // For a dp-aggregate release: the noise added and the budget spent.
  nlohmann::json noise;
};

// When the trail rotates: a file that would grow past `max_bytes` is renamed `path.1` (the older
// ones shifting to `.2`, ...; beyond `keep`, the oldest is removed) and a new one begun.
struct AuditRotation {
  uint64_t max_bytes = 256ull << 20;
  int keep = 8;
};

class AuditLog {
 public:
  // Opens (creating with mode 0600) the file for appending.
  static Result<std::unique_ptr<AuditLog>> Open(const std::filesystem::path& path, AuditRotation rotation = {});
  ~AuditLog();

  // Appends one line stamped with the current UTC time.
  Status Append(const AuditEvent& event);

  // The newest `limit` events of `peer` (all peers when empty), oldest first, read from at most
  // the last kTailBytes of the current file.
  Result<std::vector<nlohmann::json>> Tail(size_t limit, const std::string& peer = "") const;
  static constexpr size_t kTailBytes = 4 << 20;

 private:
  AuditLog(int fd, uint64_t size, std::filesystem::path path, AuditRotation rotation)
      : fd_(fd), size_(size), path_(std::move(path)), rotation_(rotation) {}
  // Shifts the files and opens a new one; called with mu_ held.
  Status Rotate();

  int fd_;         // guarded by mu_
  uint64_t size_;  // of the current file; guarded by mu_
  const std::filesystem::path path_;
  const AuditRotation rotation_;
  mutable std::mutex mu_;  // one writer at a time keeps lines in time order
};

}  // namespace fedra

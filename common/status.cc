#include "common/status.h"

namespace fedra {

std::optional<StatusCode> StatusCodeFromWire(uint8_t byte) {
  if (byte > static_cast<uint8_t>(StatusCode::kAlreadyExists)) return std::nullopt;  // the last code
  return static_cast<StatusCode>(byte);
}

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kPermissionDenied: return "permission_denied";
    case StatusCode::kResourceExhausted: return "resource_exhausted";
    case StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kDataLoss: return "data_loss";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kCancelled: return "cancelled";
    case StatusCode::kAlreadyExists: return "already_exists";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view what) const {
  if (ok()) return *this;
  return Status(code_, std::string(what) + ": " + message_);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

}  // namespace fedra

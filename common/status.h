// Status and Result<T>: how every fallible call in fedra reports failure.
//
// A Status is ok, or a code plus a message a user can act on. Errors that cross a module or the
// network gain context as they travel up ("site 'b': read 'housing': line 3, column 2: ..."), so
// the final message tells what was being done, where, and why. No exception crosses a module
// boundary; callers check, or pass the Status up with FEDRA_RETURN_IF_ERROR.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fedra {

// Codes travel on the wire as one byte: append only, never renumber.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,     // the request itself is wrong (bad name, bad shape, bad flag)
  kNotFound = 2,            // unknown dataset, variable, site, operation
  kPermissionDenied = 3,    // refused by privacy policy or by role
  kResourceExhausted = 4,   // over a size limit or the memory budget
  kDeadlineExceeded = 5,    // a peer did not answer in time
  kUnavailable = 6,         // a peer cannot be reached or went away
  kDataLoss = 7,            // malformed or truncated bytes (wire or file)
  kFailedPrecondition = 8,  // state does not allow this now
  kUnauthenticated = 9,     // certificate or token missing or wrong
  kInternal = 10,           // a bug: should never happen
  kCancelled = 11,          // stopped on request
  kAlreadyExists = 12,      // the thing to create is there already
};

// Stable lower-case name of a code, e.g. "not_found".
std::string_view StatusCodeName(StatusCode code);

// The code a byte read from the wire names; nullopt for a byte that names none. Every decoder
// of status bytes goes through this, so all accept the same codes.
std::optional<StatusCode> StatusCodeFromWire(uint8_t byte);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Same code, message prefixed with what was being done: "what: message".
  Status WithContext(std::string_view what) const;

  // "not_found: unknown dataset 'x'" (or "ok").
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }

// A value or the Status saying why there is none. Construct from either.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Holds an internal error until assigned; Asio's coroutine plumbing needs a default.
  Result() : v_(Status(StatusCode::kInternal, "result never set")) {}
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  // Requires !ok(); returns Ok() otherwise.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // Require ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fedra

#define FEDRA_CONCAT_INNER(a, b) a##b
#define FEDRA_CONCAT(a, b) FEDRA_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define FEDRA_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::fedra::Status fedra_status_ = (expr);        \
    if (!fedra_status_.ok()) return fedra_status_; \
  } while (0)

// The same inside a coroutine.
#define FEDRA_CO_RETURN_IF_ERROR(expr)                \
  do {                                                \
    ::fedra::Status fedra_status_ = (expr);           \
    if (!fedra_status_.ok()) co_return fedra_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the enclosing function.
#define FEDRA_ASSIGN_OR_RETURN(lhs, expr) FEDRA_ASSIGN_OR_RETURN_IMPL(FEDRA_CONCAT(fedra_result_, __LINE__), lhs, expr)
#define FEDRA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

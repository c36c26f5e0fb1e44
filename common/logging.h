// Process log: one line per event on stderr, "2026-11-24T12:00:00.123456Z INFO site a: message".
// Thread-safe; a line is written whole. Never log secrets (keys, tokens) or raw data values.
#pragma once

#include <map>
#include <sstream>
#include <string>

namespace fedra {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// The current UTC time as ISO 8601 with microseconds: "2026-11-24T12:00:00.123456Z".
std::string UtcTimestamp();

// The levels by the names command lines take: "debug", "info", "warn", "error".
const std::map<std::string, LogLevel>& LogLevelsByName();

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Who is speaking, e.g. "site a" or "master"; shown on every line.
void SetLogComponent(std::string component);

class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace fedra

// The stream is only built when the level is enabled. Usable as a single statement anywhere.
#define FEDRA_LOG(level)                                                                                              \
  for (bool fedra_log_on_ = ::fedra::LogLevel::level >= ::fedra::GetLogLevel(); fedra_log_on_; fedra_log_on_ = false) \
  ::fedra::LogLine(::fedra::LogLevel::level)

// Reading JSON configuration and job files: size-limited loading, relative paths, and typed field
// access whose errors name the file and the field ("site.json: limits.max_message_bytes: expected
// an integer in [1024, 4294967296], got -1"). Unknown fields are errors, so a typo is not ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/identity.h"
#include "common/status.h"

namespace fedra {

// The contents of `path`, refusing files over `max_bytes`.
Result<std::string> ReadTextFile(const std::filesystem::path& path, size_t max_bytes = 16u << 20);
// Replaces `path` with `text` (written beside it, then renamed, so a reader never sees half).
Status WriteTextFile(const std::filesystem::path& path, std::string_view text);

// Parses a JSON document from `path`, refusing files over `max_bytes`.
Result<nlohmann::json> LoadJsonFile(const std::filesystem::path& path, size_t max_bytes = 16u << 20);

// The deepest nesting of arrays and objects JSON text may have: deeper documents are refused
// before parsing, since copying and destroying them recurses once per level (a body nested
// 100,000 deep overflowed the stack).
inline constexpr int kMaxJsonDepth = 64;

// Whether `text` nests arrays and objects deeper than `limit` (strings skipped; the text need not
// be valid JSON).
bool JsonNestsDeeperThan(std::string_view text, int limit);

// Parses JSON text nested at most kMaxJsonDepth deep; errors name `source`.
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view source);

// `p` if absolute, else `p` relative to `base_dir`.
std::filesystem::path ResolvePath(const std::filesystem::path& base_dir, const std::string& p);

// Field access on one JSON object. Each call checks presence and type; Finish() reports fields
// that were never asked for. `where` names the object: "site.json:" for a top-level object,
// "site.json: limits" for a nested one; errors read "site.json: limits.port: ...".
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string where);

  // A non-ok status when the value is not an object.
  Status status() const { return status_; }

  Status Required(std::string_view key, std::string* out);
  Status Optional(std::string_view key, std::string* out);
  Status Required(std::string_view key, int64_t* out, int64_t min, int64_t max);
  Status Optional(std::string_view key, int64_t* out, int64_t min, int64_t max);
  Status Required(std::string_view key, double* out, double min, double max);
  Status Optional(std::string_view key, double* out, double min, double max);
  Status Optional(std::string_view key, uint64_t* out);  // any non-negative integer (a seed)
  Status Optional(std::string_view key, bool* out);
  Status Optional(std::string_view key, std::vector<std::string>* out);
  // The raw child, or nullptr when absent. Marks the key as known.
  const nlohmann::json* Child(std::string_view key);

  // Fails naming the first key no accessor asked for.
  Status Finish() const;

  // "where.key", for nested readers and messages.
  std::string Path(std::string_view key) const;

 private:
  const nlohmann::json* Find(std::string_view key);
  Status TypeError(std::string_view key, std::string_view expected) const;

  const nlohmann::json& object_;
  std::string where_;
  std::set<std::string, std::less<>> seen_;
  Status status_;
};

// Reads the required "tls": {"cert", "key", "ca"} object of `parent`, resolving the paths
// against `base_dir`.
Status ParseTlsFiles(JsonFields& parent, const std::filesystem::path& base_dir, TlsFiles* out);

// Writing configuration: the inverse of the readers above, so a file written from a struct reads
// back as that struct. Fields keep the order people read them in.
using OrderedJson = nlohmann::ordered_json;

// `p` as a config file in `base_dir` names it: relative when it lies there, else as given.
std::string PathInConfig(const std::filesystem::path& base_dir, const std::filesystem::path& p);

// The "tls" object for `files`.
OrderedJson TlsFilesJson(const TlsFiles& files, const std::filesystem::path& base_dir);

}  // namespace fedra

#include "common/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fedra {

bool JsonNestsDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Result<nlohmann::json> ParseJson(std::string_view text, std::string_view source) {
  if (JsonNestsDeeperThan(text, kMaxJsonDepth)) {
    return InvalidArgument(std::string(source) + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                           " levels");
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Re-parse with exceptions only to get nlohmann's position-bearing message.
    try {
      nlohmann::json unused = nlohmann::json::parse(text);
      (void)unused;
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument(std::string(source) + ": invalid JSON: " + e.what());
    }
    return InvalidArgument(std::string(source) + ": invalid JSON");
  }
  return doc;
}

Result<nlohmann::json> LoadJsonFile(const std::filesystem::path& path, size_t max_bytes) {
  FEDRA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path, max_bytes));
  return ParseJson(text, path.string());
}

Status WriteTextFile(const std::filesystem::path& path, std::string_view text) {
  // A temporary of its own beside the file (never one another writer or a planted link shares).
  std::string tmp = path.string() + ".XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return FailedPrecondition(path.string() + ": cannot write: " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool closed = ::close(fd) == 0;  // also after a failed write: no descriptor leaks
  const bool written = done == text.size() && closed;
  std::error_code ec;
  if (written) std::filesystem::rename(tmp, path, ec);
  if (!written || ec) {
    std::filesystem::remove(tmp, ec);
    return FailedPrecondition(path.string() + ": cannot write");
  }
  return Status::Ok();
}

Result<std::string> ReadTextFile(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(path.string() + ": " + ec.message());
  if (size > max_bytes) {
    return ResourceExhausted(path.string() + ": " + std::to_string(size) + " bytes exceeds the limit of " +
                             std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::filesystem::path ResolvePath(const std::filesystem::path& base_dir, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : base_dir / path;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string where) : object_(object), where_(std::move(where)) {
  if (!object_.is_object()) status_ = InvalidArgument(where_ + ": expected a JSON object");
}

std::string JsonFields::Path(std::string_view key) const {
  // A top-level reader is named "file.json:", a nested one "file.json: limits".
  if (where_.empty()) return std::string(key);
  return where_ + (where_.back() == ':' ? " " : ".") + std::string(key);
}

const nlohmann::json* JsonFields::Find(std::string_view key) {
  seen_.emplace(key);
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

Status JsonFields::TypeError(std::string_view key, std::string_view expected) const {
  return InvalidArgument(Path(key) + ": expected " + std::string(expected));
}

Status JsonFields::Required(std::string_view key, std::string* out) {
  FEDRA_RETURN_IF_ERROR(status_);
  if (object_.find(key) == object_.end()) return InvalidArgument(Path(key) + ": required");
  return Optional(key, out);
}

Status JsonFields::Optional(std::string_view key, std::string* out) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  if (!v->is_string()) return TypeError(key, "a string");
  *out = v->get<std::string>();
  return Status::Ok();
}

Status JsonFields::Required(std::string_view key, int64_t* out, int64_t min, int64_t max) {
  FEDRA_RETURN_IF_ERROR(status_);
  if (object_.find(key) == object_.end()) return InvalidArgument(Path(key) + ": required");
  return Optional(key, out, min, max);
}

Status JsonFields::Optional(std::string_view key, int64_t* out, int64_t min, int64_t max) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!v->is_number_integer()) return TypeError(key, range + ", got " + v->dump());
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max) return TypeError(key, range + ", got " + std::to_string(x));
  *out = x;
  return Status::Ok();
}

Status JsonFields::Required(std::string_view key, double* out, double min, double max) {
  FEDRA_RETURN_IF_ERROR(status_);
  if (object_.find(key) == object_.end()) return InvalidArgument(Path(key) + ": required");
  return Optional(key, out, min, max);
}

Status JsonFields::Optional(std::string_view key, double* out, double min, double max) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  std::ostringstream range;
  range << "a number in [" << min << ", " << max << "]";
  if (!v->is_number()) return TypeError(key, range.str() + ", got " + v->dump());
  const double x = v->get<double>();
  if (!(x >= min && x <= max)) return TypeError(key, range.str() + ", got " + v->dump());
  *out = x;
  return Status::Ok();
}

Status JsonFields::Optional(std::string_view key, uint64_t* out) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  if (!v->is_number_unsigned()) return TypeError(key, "a non-negative integer, got " + v->dump());
  *out = v->get<uint64_t>();
  return Status::Ok();
}

Status JsonFields::Optional(std::string_view key, bool* out) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  if (!v->is_boolean()) return TypeError(key, "true or false");
  *out = v->get<bool>();
  return Status::Ok();
}

Status JsonFields::Optional(std::string_view key, std::vector<std::string>* out) {
  FEDRA_RETURN_IF_ERROR(status_);
  const nlohmann::json* v = Find(key);
  if (!v) return Status::Ok();
  if (!v->is_array()) return TypeError(key, "an array of strings");
  std::vector<std::string> items;
  for (const auto& item : *v) {
    if (!item.is_string()) return TypeError(key, "an array of strings");
    items.push_back(item.get<std::string>());
  }
  *out = std::move(items);
  return Status::Ok();
}

const nlohmann::json* JsonFields::Child(std::string_view key) {
  if (!status_.ok()) return nullptr;
  return Find(key);
}

Status JsonFields::Finish() const {
  FEDRA_RETURN_IF_ERROR(status_);
  for (const auto& [key, value] : object_.items()) {
    if (!seen_.contains(key)) return InvalidArgument(Path(key) + ": unknown field");
  }
  return Status::Ok();
}

Status ParseTlsFiles(JsonFields& parent, const std::filesystem::path& base_dir, TlsFiles* out) {
  const nlohmann::json* node = parent.Child("tls");
  if (!node) return InvalidArgument(parent.Path("tls") + ": required");
  JsonFields f(*node, parent.Path("tls"));
  std::string cert, key, ca;
  FEDRA_RETURN_IF_ERROR(f.Required("cert", &cert));
  FEDRA_RETURN_IF_ERROR(f.Required("key", &key));
  FEDRA_RETURN_IF_ERROR(f.Required("ca", &ca));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  *out = {ResolvePath(base_dir, cert), ResolvePath(base_dir, key), ResolvePath(base_dir, ca)};
  return Status::Ok();
}

std::string PathInConfig(const std::filesystem::path& base_dir, const std::filesystem::path& p) {
  if (p.is_relative()) return p.string();
  const std::filesystem::path relative = p.lexically_relative(base_dir);
  const bool inside = !relative.empty() && *relative.begin() != "..";
  return inside ? relative.string() : p.string();
}

OrderedJson TlsFilesJson(const TlsFiles& files, const std::filesystem::path& base_dir) {
  return {{"cert", PathInConfig(base_dir, files.cert)},
          {"key", PathInConfig(base_dir, files.key)},
          {"ca", PathInConfig(base_dir, files.ca)}};
}

}  // namespace fedra

// The dashboard's static files, read once from a folder at startup and served from memory. A
// request can only name a file that was there at startup: no path from the network ever
// reaches the file system.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "common/status.h"

namespace fedra {

struct StaticFile {
  std::string content_type;
  std::string bytes;
};

class StaticFiles {
 public:
  // Reads every regular file under `root` (at most kMaxTotalBytes in all).
  static Result<StaticFiles> Load(const std::filesystem::path& root);

  // The file at a request path ("/" is "/index.html"); nullptr when there is none.
  const StaticFile* Find(std::string_view path) const;
  size_t size() const { return files_.size(); }

  static constexpr size_t kMaxTotalBytes = 64 << 20;

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
};

}  // namespace fedra

#include "master/api/static_files.h"

#include <fstream>
#include <sstream>

namespace fedra {
namespace {

std::string ContentType(const std::filesystem::path& p) {
  static const std::map<std::string, std::string> kTypes = {{".html", "text/html; charset=utf-8"},
                                                            {".js", "text/javascript; charset=utf-8"},
                                                            {".css", "text/css; charset=utf-8"},
                                                            {".json", "application/json"},
                                                            {".svg", "image/svg+xml"},
                                                            {".png", "image/png"},
                                                            {".map", "application/json"}};
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace

Result<StaticFiles> StaticFiles::Load(const std::filesystem::path& root) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) return NotFound(root.string() + ": no such folder");
  StaticFiles out;
  size_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in && !in.eof()) return Internal(it->path().string() + ": cannot read");
    total += bytes.str().size();
    if (total > kMaxTotalBytes) return ResourceExhausted(root.string() + ": more than 64 MiB of static files");
    out.files_["/" + std::filesystem::relative(it->path(), root).generic_string()] =
        StaticFile{ContentType(it->path()), bytes.str()};
  }
  if (ec) return Internal(root.string() + ": " + ec.message());
  return out;
}

const StaticFile* StaticFiles::Find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace fedra

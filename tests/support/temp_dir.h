// A fresh folder under the system temp directory, removed with everything in it on destruction.
#pragma once

#include <filesystem>
#include <string>

namespace fedra::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "fedra-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `path`, creating parent folders.
void WriteFile(const std::filesystem::path& path, const std::string& text);
// The whole file as a string ("" when missing).
std::string ReadFile(const std::filesystem::path& path);

}  // namespace fedra::testing

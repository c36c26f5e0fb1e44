// Files of a federation folder, written so that nothing is ever overwritten and nothing is seen
// half-written: new files are created under a temporary name with their final mode and renamed
// into place without replacing; whole folders are built in a staging folder and renamed likewise.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace fedra::provision {

inline constexpr mode_t kSecretFileMode = 0600;  // private keys, API tokens
inline constexpr mode_t kPublicFileMode = 0644;  // certificates, configs
inline constexpr mode_t kPrivateDirMode = 0700;  // the output folder, the CA, kits

// True when anything is at `path`, a dangling symlink included.
bool PathExists(const std::filesystem::path& path);

// Creates `path` holding `contents`, with exactly `mode` (never wider, not even while written).
// Fails with kAlreadyExists when anything is at `path`; readers see the whole file or none.
Status WriteNewFile(const std::filesystem::path& path, std::string_view contents, mode_t mode);

// Appends `text` to the regular file `path`, which must exist (a symlink is refused).
Status AppendToFile(const std::filesystem::path& path, std::string_view text);

// The whole file; refuses files over `max_bytes`.
Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes = 1 << 20);

// Creates the folder `path` with exactly `mode`; kAlreadyExists when anything is there.
Status CreateNewDirectory(const std::filesystem::path& path, mode_t mode);

// Creates `path` and its missing parents, each with mode 0700. Returns whether `path` itself was
// created (false when it was a folder already).
Result<bool> CreateDirectories(const std::filesystem::path& path);

// Renames `from` to `to` unless anything is at `to` (renameat2 with RENAME_NOREPLACE), in which
// case it fails with kAlreadyExists and leaves both alone.
Status MoveIntoPlace(const std::filesystem::path& from, const std::filesystem::path& to);

// A private (0700) scratch folder inside `parent`, named .fedra-provision.XXXXXX: on the same
// filesystem, so what is built in it can be moved into place with MoveIntoPlace. It is removed,
// with whatever is still in it, when this object is destroyed.
class StagingDir {
 public:
  static Result<StagingDir> Create(const std::filesystem::path& parent);

  StagingDir(StagingDir&& other) noexcept;
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit StagingDir(std::filesystem::path path) : path_(std::move(path)) {}

  std::filesystem::path path_;  // empty once moved from
};

}  // namespace fedra::provision

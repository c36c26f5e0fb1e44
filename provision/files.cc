#include "provision/files.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace fedra::provision {
namespace {

Status ErrnoStatus(int error, const std::filesystem::path& path, std::string_view what) {
  std::string message = path.string() + ": " + std::string(what) + ": " + std::strerror(error);
  switch (error) {
    case EEXIST: return AlreadyExists(std::move(message));
    case ENOENT: return NotFound(std::move(message));
    case EACCES:
    case EPERM:
    case EROFS: return PermissionDenied(std::move(message));
    case ENOSPC:
    case EDQUOT: return ResourceExhausted(std::move(message));
    default: return FailedPrecondition(std::move(message));
  }
}

// Owns an open file descriptor.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }
  // Closes now, so that a failing close (a late write error) is reported.
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, path, "cannot write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Writes `contents` to the already created, empty `temp` and gives it `mode`.
Status FillTemporaryFile(FileDescriptor& fd, const std::filesystem::path& temp, std::string_view contents,
                         mode_t mode) {
  if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus(errno, temp, "cannot set mode");
  FEDRA_RETURN_IF_ERROR(WriteAll(fd.get(), contents, temp));
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, temp, "cannot flush to disk");
  if (fd.Close() != 0) return ErrnoStatus(errno, temp, "cannot close");
  return Status::Ok();
}

}  // namespace

bool PathExists(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status WriteNewFile(const std::filesystem::path& path, std::string_view contents, mode_t mode) {
  if (PathExists(path)) return AlreadyExists(path.string() + ": exists already; leaving it untouched");
  // mkostemp creates with O_CREAT|O_EXCL and mode 0600, so the file is never wider than `mode`.
  std::string temp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
  FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, path.parent_path(), "cannot create a file");
  Status status = FillTemporaryFile(fd, temp, contents, mode);
  if (status.ok()) status = MoveIntoPlace(temp, path);
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

Status AppendToFile(const std::filesystem::path& path, std::string_view text) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, path, "cannot open for appending");
  FEDRA_RETURN_IF_ERROR(WriteAll(fd.get(), text, path));
  if (fd.Close() != 0) return ErrnoStatus(errno, path, "cannot close");
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, path, "cannot open");
  std::string contents;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, path, "cannot read");
    if (n == 0) return contents;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > max_bytes) {
      return ResourceExhausted(path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
}

Status CreateNewDirectory(const std::filesystem::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return ErrnoStatus(errno, path, "cannot create folder");
  // mkdir's mode passes through the umask; the folder gets exactly `mode`.
  if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus(errno, path, "cannot set mode");
  return Status::Ok();
}

Result<bool> CreateDirectories(const std::filesystem::path& path) {
  std::filesystem::path prefix;
  bool created = false;
  for (const std::filesystem::path& part : path) {
    prefix /= part;
    if (part.empty()) continue;  // a trailing separator
    Status status = CreateNewDirectory(prefix, kPrivateDirMode);
    created = status.ok();
    std::error_code ec;
    if (status.ok() || std::filesystem::is_directory(prefix, ec)) continue;
    if (status.code() == StatusCode::kAlreadyExists) {
      return FailedPrecondition(prefix.string() + " exists and is not a directory");
    }
    return status;
  }
  return created;
}

Status MoveIntoPlace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return Status::Ok();
  const int error = errno;
  if (error == EEXIST) return AlreadyExists(to.string() + " appeared while provisioning; leaving it untouched");
  if (error == EINVAL || error == ENOSYS) {
    return FailedPrecondition("cannot move " + from.string() + " to " + to.string() +
                              ": this filesystem cannot rename without replacing (renameat2 RENAME_NOREPLACE); "
                              "use an output folder on a local filesystem such as ext4, xfs, btrfs or tmpfs");
  }
  return ErrnoStatus(error, to, "cannot move " + from.string() + " into place");
}

Result<StagingDir> StagingDir::Create(const std::filesystem::path& parent) {
  std::string name = (parent / ".fedra-provision.XXXXXX").string();
  if (!::mkdtemp(name.data())) return ErrnoStatus(errno, parent, "cannot create a staging folder");
  return StagingDir(std::move(name));
}

StagingDir::StagingDir(StagingDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

StagingDir::~StagingDir() {
  if (path_.empty()) return;
  std::error_code ignored;  // best effort in a destructor; a leftover is recognisable by its name
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace fedra::provision

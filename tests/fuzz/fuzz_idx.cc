// IDX files (Fashion-MNIST's format), plain or gzip-compressed, as a dataset file may hold them.
// The reader takes a path, so each input goes through a file of this process's own.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/fedra-fuzz-idx-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  // A budget of 64 MiB, as a site's memory limit would refuse larger files before reading them.
  const auto admit = [](size_t rows, size_t cols) {
    return rows * cols <= (size_t{8} << 20) ? fedra::Status::Ok() : fedra::ResourceExhausted("over budget");
  };
  (void)fedra::ProbeIdxFile(path, "fuzz");
  (void)fedra::ReadIdxFile(path, "fuzz", admit, 1);
  return 0;
}

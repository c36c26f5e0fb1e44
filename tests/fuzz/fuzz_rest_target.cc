// REST request targets as they arrive in an HTTP request line: path segments and query.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "master/api/api_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fedra::ParseApiTarget(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

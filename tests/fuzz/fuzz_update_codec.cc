// Packed model updates as the master unpacks them; the first byte picks the dense length the
// master expects (0..255), the rest is the update.
#include <cstddef>
#include <cstdint>
#include <span>

#include "federated/update_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  (void)fedra::UnpackUpdate(std::span<const uint8_t>(data + 1, size - 1), data[0]);
  return 0;
}

// Response batches as the master receives them from a site.
#include <cstddef>
#include <cstdint>
#include <span>

#include "federated/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fedra::ResponseBatch batch;
  (void)fedra::DecodeResponseBatch(std::span<const uint8_t>(data, size), &batch);
  return 0;
}

// Response batches as the master receives them from a site.
#include <cstddef>
#include <cstdint>
#include <span>

#include "federated/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fedra::ResponseBatch batch;
  (void)fedra::DecodeResponseBatch(std::span<const uint8_t>(data, size), &batch);
  // Also as a head whose values follow out of line, within a small limit.
  fedra::ResponseBatch head;
  fedra::IncomingValues values;
  values.max_bytes = 1 << 20;
  (void)fedra::DecodeResponseBatch(std::span<const uint8_t>(data, size), &head, &values);
  return 0;
}

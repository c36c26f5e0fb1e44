// Frame headers and error bodies as they arrive from a peer: the first 16 bytes are a header
// (checked against a 1 MiB body limit), the rest an error frame's body.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  if (in.size() >= fedra::kFrameHeaderBytes) {
    (void)fedra::DecodeFrameHeader(in.first<fedra::kFrameHeaderBytes>(), uint64_t{1} << 20);
    in = in.subspan(fedra::kFrameHeaderBytes);
  }
  (void)fedra::DecodeErrorBody(in);
  return 0;
}

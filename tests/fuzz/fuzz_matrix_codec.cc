// Matrices on the wire, as doubles and as float32.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/matrix_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  fedra::Matrix m;
  fedra::ByteReader doubles(in);
  (void)fedra::DecodeMatrix(&doubles, &m);
  Eigen::MatrixXf f;
  fedra::ByteReader floats(in);
  (void)fedra::DecodeFloatMatrix(&floats, &f);
  return 0;
}

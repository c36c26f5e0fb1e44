// Matrices on the wire: u64 rows, u64 cols, then rows*cols raw little-endian doubles (or, where
// the sender chose so, floats) in column-major order. Never JSON numbers.
#pragma once

#include "common/bytes.h"
#include "common/matrix.h"

namespace fedra {

void EncodeMatrix(const Matrix& m, ByteWriter* w);

// Reads a shape and checks that it is representable (and, when empty, not absurdly long).
Status DecodeMatrixShape(ByteReader* r, uint64_t* rows, uint64_t* cols);

// Decodes one matrix; fails with kDataLoss (naming the offset) on truncation or a shape whose
// size overflows or exceeds what is left in the buffer, before allocating anything.
Status DecodeMatrix(ByteReader* r, Matrix* m);

// The same layout with floats (model parameters, which are floats already), read as floats.
Status DecodeFloatMatrix(ByteReader* r, Eigen::MatrixXf* m);

// Bytes EncodeMatrix writes for m.
inline size_t EncodedMatrixBytes(const Matrix& m) { return 16 + MatrixBytes(m); }

// The most rows (or columns) a decoded matrix with no values may have.
inline constexpr uint64_t kMaxEmptyExtent = uint64_t{1} << 20;

}  // namespace fedra

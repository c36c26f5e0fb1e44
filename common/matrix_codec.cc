#include "common/matrix_codec.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace fedra {
namespace {

// Reads the shape and checks that `element_bytes` per value fit in what is left.
Status DecodeShape(ByteReader* r, size_t element_bytes, uint64_t* rows, uint64_t* cols) {
  FEDRA_RETURN_IF_ERROR(DecodeMatrixShape(r, rows, cols));
  return r->Need(*rows * *cols * element_bytes,
                 "matrix " + std::to_string(*rows) + "x" + std::to_string(*cols) + " values");
}

}  // namespace

Status DecodeMatrixShape(ByteReader* r, uint64_t* rows, uint64_t* cols) {
  FEDRA_RETURN_IF_ERROR(r->Get(rows));
  FEDRA_RETURN_IF_ERROR(r->Get(cols));
  const uint64_t max_index = static_cast<uint64_t>(std::numeric_limits<Eigen::Index>::max());
  if (*rows > max_index || *cols > max_index ||
      (*cols != 0 && *rows > std::numeric_limits<uint64_t>::max() / sizeof(double) / *cols)) {
    return DataLoss("matrix shape " + std::to_string(*rows) + "x" + std::to_string(*cols) + " is not representable");
  }
  // An empty matrix costs no bytes on the wire, but operations walk its rows or columns: a put of
  // 2^33 x 0 once held a site's compute thread for a minute.
  if ((*rows == 0 || *cols == 0) && std::max(*rows, *cols) > kMaxEmptyExtent) {
    return DataLoss("matrix shape " + std::to_string(*rows) + "x" + std::to_string(*cols) + ": an empty matrix with " +
                    "more than " + std::to_string(kMaxEmptyExtent) + " rows or columns");
  }
  return Status::Ok();
}

void EncodeMatrix(const Matrix& m, ByteWriter* w) {
  w->Put(static_cast<uint64_t>(m.rows()));
  w->Put(static_cast<uint64_t>(m.cols()));
  w->Append(m.data(), MatrixBytes(m));
}

Status DecodeMatrix(ByteReader* r, Matrix* m) {
  uint64_t rows = 0, cols = 0;
  FEDRA_RETURN_IF_ERROR(DecodeShape(r, sizeof(double), &rows, &cols));
  m->resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  return r->Copy(m->data(), rows * cols * sizeof(double), "matrix values");
}

Status DecodeFloatMatrix(ByteReader* r, Eigen::MatrixXf* m) {
  uint64_t rows = 0, cols = 0;
  FEDRA_RETURN_IF_ERROR(DecodeShape(r, sizeof(float), &rows, &cols));
  m->resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  return r->Copy(m->data(), rows * cols * sizeof(float), "matrix values");
}

}  // namespace fedra

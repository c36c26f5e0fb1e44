#include "common/matrix_codec.h"

#include <limits>

namespace fedra {

void EncodeMatrix(const Matrix& m, ByteWriter* w) {
  w->Put(static_cast<uint64_t>(m.rows()));
  w->Put(static_cast<uint64_t>(m.cols()));
  w->Append(m.data(), MatrixBytes(m));
}

Status DecodeMatrix(ByteReader* r, Matrix* m) {
  uint64_t rows = 0, cols = 0;
  FEDRA_RETURN_IF_ERROR(r->Get(&rows));
  FEDRA_RETURN_IF_ERROR(r->Get(&cols));
  const uint64_t max_index = static_cast<uint64_t>(std::numeric_limits<Eigen::Index>::max());
  if (rows > max_index || cols > max_index ||
      (cols != 0 && rows > std::numeric_limits<uint64_t>::max() / sizeof(double) / cols)) {
    return DataLoss("matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                    " is not representable");
  }
  const uint64_t bytes = rows * cols * sizeof(double);
  FEDRA_RETURN_IF_ERROR(r->Need(bytes, "matrix " + std::to_string(rows) + "x" +
                                           std::to_string(cols) + " values"));
  m->resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  return r->Copy(m->data(), bytes, "matrix values");
}

}  // namespace fedra

// Reader for the IDX format (MNIST, Fashion-MNIST): a 4-byte magic (0, 0, element type, number
// of dimensions), the dimensions as big-endian 32-bit counts, then the elements, row-major.
// Files may be gzip-compressed (as Debian's dataset packages ship them) or plain.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

struct IdxShape {
  std::vector<uint32_t> dims;  // dims[0] items, each of the product of the others elements
  uint64_t items() const { return dims.empty() ? 0 : dims[0]; }
  uint64_t item_size() const;  // elements per item (1 for a vector of labels)
};

// Reads the header only. `source_name` names the file in errors ("dataset 'x' (file.gz)").
Result<IdxShape> ProbeIdxFile(const std::string& path, const std::string& source_name);

// Reads the whole file as an items x (item_size + extra_columns) matrix of doubles, the extra
// columns zero (room for labels without a second copy). `admit` sees the shape before the values
// are allocated (e.g. to check a memory budget).
Result<Matrix> ReadIdxFile(const std::string& path, const std::string& source_name,
                           const std::function<Status(size_t rows, size_t cols)>& admit = nullptr,
                           size_t extra_columns = 0);

}  // namespace fedra

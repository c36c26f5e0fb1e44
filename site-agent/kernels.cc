#include "site-agent/kernels.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/code_table.h"
#include "site-agent/blas.h"
#include "site-agent/elementwise.h"

namespace fedra {
namespace {

using Inputs = std::span<const Matrix* const>;
using Json = nlohmann::json;
using Kernel = Result<Matrix> (*)(Inputs in, const Json& params);

std::string Shape(const Matrix& m) { return std::to_string(m.rows()) + "x" + std::to_string(m.cols()); }

Status ShapeError(Op op, const Matrix& a, const Matrix& b) {
  return InvalidArgument(std::string(Describe(op).name) + ": inputs of shape " + Shape(a) + " and " + Shape(b) +
                         " do not fit");
}

Result<Matrix> ColSums(Inputs in, const Json&) { return Matrix(in[0]->colwise().sum()); }
Result<Matrix> RowSums(Inputs in, const Json&) { return Matrix(in[0]->rowwise().sum()); }
Result<Matrix> Sum(Inputs in, const Json&) { return Matrix(Matrix::Constant(1, 1, in[0]->sum())); }
Result<Matrix> ColSumSq(Inputs in, const Json&) { return Matrix(in[0]->colwise().squaredNorm()); }
Result<Matrix> RowSumSq(Inputs in, const Json&) { return Matrix(in[0]->rowwise().squaredNorm()); }

// t(X) %*% X through a symmetric rank update (OpenBLAS's dsyrk on large X): half the flops of a
// general product.
Result<Matrix> TransposeSelfProduct(Inputs in, const Json&) { return Gram(*in[0]); }

Result<Matrix> SelectColumns(Inputs in, const Json& params) {
  const Matrix& x = *in[0];
  FEDRA_ASSIGN_OR_RETURN(ColumnsParams p, ColumnsParams::Parse(params));
  Matrix out(x.rows(), static_cast<Eigen::Index>(p.indices.size()));
  for (size_t j = 0; j < p.indices.size(); ++j) {
    if (p.indices[j] >= x.cols()) {
      return InvalidArgument("columns: index " + std::to_string(p.indices[j]) + " is outside 0.." +
                             std::to_string(x.cols() - 1));
    }
    out.col(static_cast<Eigen::Index>(j)) = x.col(p.indices[j]);
  }
  return out;
}

// colMins, colMaxs, rowMins, rowMaxs.
template <Op kOp>
Result<Matrix> Extreme(Inputs in, const Json&) {
  constexpr bool kByColumn = kOp == Op::kColMins || kOp == Op::kColMaxs;
  constexpr bool kMin = kOp == Op::kColMins || kOp == Op::kRowMins;
  const Matrix& x = *in[0];
  if ((kByColumn ? x.rows() : x.cols()) == 0) {
    return InvalidArgument(std::string(Describe(kOp).name) + " of a matrix without " +
                           (kByColumn ? "rows" : "columns"));
  }
  if constexpr (kByColumn) return kMin ? Matrix(x.colwise().minCoeff()) : Matrix(x.colwise().maxCoeff());
  return kMin ? Matrix(x.rowwise().minCoeff()) : Matrix(x.rowwise().maxCoeff());
}

Result<Matrix> MatMul(Inputs in, const Json&) {
  const Matrix &x = *in[0], &v = *in[1];
  if (x.cols() != v.rows()) return ShapeError(Op::kMatmul, x, v);
  return Matrix(x * v);
}

Result<Matrix> TransposeMatMul(Inputs in, const Json&) {
  const Matrix &x = *in[0], &y = *in[1];
  if (x.rows() != y.rows()) return ShapeError(Op::kTmatmul, x, y);
  return CrossProduct(x, y);
}

Result<Matrix> TransposeSelfProductVector(Inputs in, const Json&) {
  const Matrix &x = *in[0], &v = *in[1];
  if (x.cols() != v.rows()) return ShapeError(Op::kTsmv, x, v);
  return Matrix(x.transpose() * (x * v));
}

Result<Matrix> TransposeWeightedProduct(Inputs in, const Json&) {
  const Matrix &x = *in[0], &w = *in[1], &v = *in[2];
  if (w.rows() != x.rows() || w.cols() != 1 || v.rows() != x.cols()) {
    return InvalidArgument("tXwXv: w must be nrow(X) x 1 and v ncol(X) x k");
  }
  return Matrix(x.transpose() * ((x * v).array().colwise() * w.col(0).array()).matrix());
}

template <Op kOp>
Result<Matrix> Binary(Inputs in, const Json& params) {
  return ElementwiseBinary(kOp, *in[0], *in[1], IsReversed(params));
}

template <Op kOp>
Result<Matrix> Unary(Inputs in, const Json&) {
  return ElementwiseUnary(kOp, *in[0]);
}

struct KernelEntry {
  Op code;
  Kernel run;  // nullptr: runs in the executor
};

constexpr std::array kKernels = {
    KernelEntry{Op::kColSums, &ColSums},
    KernelEntry{Op::kSum, &Sum},
    KernelEntry{Op::kTsmm, &TransposeSelfProduct},
    KernelEntry{Op::kTmatmul, &TransposeMatMul},
    KernelEntry{Op::kTsmv, &TransposeSelfProductVector},
    KernelEntry{Op::kTXwXv, &TransposeWeightedProduct},
    KernelEntry{Op::kRowSums, &RowSums},
    KernelEntry{Op::kColumns, &SelectColumns},
    KernelEntry{Op::kSplitRows, nullptr},
    KernelEntry{Op::kMatmul, &MatMul},
    KernelEntry{Op::kColSumSq, &ColSumSq},
    KernelEntry{Op::kColMins, &Extreme<Op::kColMins>},
    KernelEntry{Op::kColMaxs, &Extreme<Op::kColMaxs>},
    KernelEntry{Op::kRowSumSq, &RowSumSq},
    KernelEntry{Op::kRowMins, &Extreme<Op::kRowMins>},
    KernelEntry{Op::kRowMaxs, &Extreme<Op::kRowMaxs>},
    KernelEntry{Op::kAdd, &Binary<Op::kAdd>},
    KernelEntry{Op::kSub, &Binary<Op::kSub>},
    KernelEntry{Op::kMul, &Binary<Op::kMul>},
    KernelEntry{Op::kDiv, &Binary<Op::kDiv>},
    KernelEntry{Op::kLt, &Binary<Op::kLt>},
    KernelEntry{Op::kLe, &Binary<Op::kLe>},
    KernelEntry{Op::kGt, &Binary<Op::kGt>},
    KernelEntry{Op::kGe, &Binary<Op::kGe>},
    KernelEntry{Op::kEq, &Binary<Op::kEq>},
    KernelEntry{Op::kNe, &Binary<Op::kNe>},
    KernelEntry{Op::kExp, &Unary<Op::kExp>},
    KernelEntry{Op::kLog, &Unary<Op::kLog>},
    KernelEntry{Op::kAbs, &Unary<Op::kAbs>},
    KernelEntry{Op::kSqrt, &Unary<Op::kSqrt>},
    KernelEntry{Op::kSigmoid, &Unary<Op::kSigmoid>},
    KernelEntry{Op::kRound, &Unary<Op::kRound>},
};
static_assert(kKernels.size() == kOperationCount, "every operation needs a kernel");

static_assert(ListedInCodeOrder(kKernels), "kKernels must list each operation at its code's index");

}  // namespace

uint64_t ResultValuesBound(Op op, std::span<const Matrix* const> inputs, const nlohmann::json& params) {
  uint64_t rows = 0, cols = 0;  // the largest of any input
  for (const Matrix* m : inputs) {
    rows = std::max(rows, static_cast<uint64_t>(m->rows()));
    cols = std::max(cols, static_cast<uint64_t>(m->cols()));
  }
  const auto cols_of = [&](size_t i) { return i < inputs.size() ? static_cast<uint64_t>(inputs[i]->cols()) : 0; };
  const auto rows_of = [&](size_t i) { return i < inputs.size() ? static_cast<uint64_t>(inputs[i]->rows()) : 0; };
  switch (op) {
    case Op::kSum: return 1;
    case Op::kColSums:
    case Op::kColSumSq:
    case Op::kColMins:
    case Op::kColMaxs: return cols_of(0);
    case Op::kRowSums:
    case Op::kRowSumSq:
    case Op::kRowMins:
    case Op::kRowMaxs: return rows_of(0);
    case Op::kTsmm: return cols_of(0) * cols_of(0);
    case Op::kTmatmul:
    case Op::kTsmv:
    case Op::kTXwXv: return cols_of(0) * std::max<uint64_t>(cols, 1);
    case Op::kMatmul: return rows_of(0) * cols_of(1);
    case Op::kColumns: {
      const auto it = params.find("indices");
      return rows_of(0) * (it != params.end() && it->is_array() ? it->size() : 0);
    }
    default: return rows * cols;  // elementwise (with broadcasting), unary maps, row picks
  }
}

Result<Matrix> RunOperation(Op op, std::span<const Matrix* const> inputs, const nlohmann::json& params) {
  const OperationInfo& info = Describe(op);
  if (static_cast<int>(inputs.size()) != info.arity) {
    return InvalidArgument(std::string(info.name) + " takes " + std::to_string(info.arity) + " input(s), got " +
                           std::to_string(inputs.size()));
  }
  const Kernel run = kKernels[static_cast<size_t>(op)].run;
  if (!run) return Internal(std::string(info.name) + " runs in the executor, not as a kernel");
  return run(inputs, params);
}

}  // namespace fedra

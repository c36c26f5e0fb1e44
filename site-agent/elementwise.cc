#include "site-agent/elementwise.h"

#include <string>

namespace fedra {
namespace {

using Array = Eigen::ArrayXXd;

// Y spread to X's shape.
Result<Array> Broadcast(const Matrix& x, const Matrix& y) {
  if (y.rows() == x.rows() && y.cols() == x.cols()) return Array(y.array());
  if (y.rows() == 1 && y.cols() == 1) return Array(Array::Constant(x.rows(), x.cols(), y(0, 0)));
  if (y.rows() == 1 && y.cols() == x.cols()) return Array(y.array().replicate(x.rows(), 1));
  if (y.cols() == 1 && y.rows() == x.rows()) return Array(y.array().replicate(1, x.cols()));
  return InvalidArgument("cannot broadcast " + std::to_string(y.rows()) + "x" + std::to_string(y.cols()) + " to " +
                         std::to_string(x.rows()) + "x" + std::to_string(x.cols()));
}

Status NotElementwise(Op op) {
  return Internal("'" + std::string(Describe(op).name) + "' is not an elementwise operation");
}

}  // namespace

Result<Matrix> ElementwiseBinary(Op op, const Matrix& x, const Matrix& y, bool reverse) {
  FEDRA_ASSIGN_OR_RETURN(Array b, Broadcast(x, y));
  Array a = x.array();
  if (reverse) std::swap(a, b);
  switch (op) {
    case Op::kAdd: return Matrix(a + b);
    case Op::kSub: return Matrix(a - b);
    case Op::kMul: return Matrix(a * b);
    case Op::kDiv: return Matrix(a / b);
    case Op::kLt: return Matrix((a < b).cast<double>());
    case Op::kLe: return Matrix((a <= b).cast<double>());
    case Op::kGt: return Matrix((a > b).cast<double>());
    case Op::kGe: return Matrix((a >= b).cast<double>());
    case Op::kEq: return Matrix((a == b).cast<double>());
    case Op::kNe: return Matrix((a != b).cast<double>());
    default: return NotElementwise(op);
  }
}

Result<Matrix> ElementwiseUnary(Op op, const Matrix& x) {
  switch (op) {
    case Op::kExp: return Matrix(x.array().exp());
    case Op::kLog: return Matrix(x.array().log());
    case Op::kAbs: return Matrix(x.array().abs());
    case Op::kSqrt: return Matrix(x.array().sqrt());
    case Op::kSigmoid: return Matrix(1.0 / (1.0 + (-x.array()).exp()));
    case Op::kRound: return Matrix(x.array().round());
    default: return NotElementwise(op);
  }
}

}  // namespace fedra

#include "site-agent/elementwise.h"

#include <functional>
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

Array Compare(const Array& a, const Array& b, std::string_view op) {
  if (op == "lt") return (a < b).cast<double>();
  if (op == "le") return (a <= b).cast<double>();
  if (op == "gt") return (a > b).cast<double>();
  if (op == "ge") return (a >= b).cast<double>();
  if (op == "eq") return (a == b).cast<double>();
  return (a != b).cast<double>();
}

}  // namespace

Result<Matrix> ElementwiseBinary(std::string_view op, const Matrix& x, const Matrix& y, bool reverse) {
  FEDRA_ASSIGN_OR_RETURN(Array b, Broadcast(x, y));
  Array a = x.array();
  if (reverse) std::swap(a, b);
  if (op == "add") return Matrix(a + b);
  if (op == "sub") return Matrix(a - b);
  if (op == "mul") return Matrix(a * b);
  if (op == "div") return Matrix(a / b);
  if (op == "lt" || op == "le" || op == "gt" || op == "ge" || op == "eq" || op == "ne") {
    return Matrix(Compare(a, b, op));
  }
  return NotFound("'" + std::string(op) + "' is not an elementwise binary operation");
}

Result<Matrix> ElementwiseUnary(std::string_view op, const Matrix& x) {
  if (op == "exp") return Matrix(x.array().exp());
  if (op == "log") return Matrix(x.array().log());
  if (op == "abs") return Matrix(x.array().abs());
  if (op == "sqrt") return Matrix(x.array().sqrt());
  if (op == "sigmoid") return Matrix(1.0 / (1.0 + (-x.array()).exp()));
  if (op == "round") return Matrix(x.array().round());
  return NotFound("'" + std::string(op) + "' is not an elementwise function");
}

}  // namespace fedra

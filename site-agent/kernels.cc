#include "site-agent/kernels.h"

#include <string>

#include "site-agent/elementwise.h"

namespace fedra {
namespace {

std::string Shape(const Matrix& m) { return std::to_string(m.rows()) + "x" + std::to_string(m.cols()); }

Status ShapeError(const OperationInfo& op, const Matrix& a, const Matrix& b) {
  return InvalidArgument(std::string(op.name) + ": inputs of shape " + Shape(a) + " and " + Shape(b) + " do not fit");
}

// t(X) %*% X through a symmetric rank update: half the flops of a general product.
Matrix TransposeSelfProduct(const Matrix& x) {
  Matrix out = Matrix::Zero(x.cols(), x.cols());
  out.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  out.triangularView<Eigen::StrictlyUpper>() = out.transpose();
  return out;
}

Result<Matrix> SelectColumns(const Matrix& x, const nlohmann::json& params) {
  const auto it = params.find("indices");
  if (it == params.end() || !it->is_array() || it->empty()) {
    return InvalidArgument("columns: params.indices must be a non-empty array of column indices");
  }
  Matrix out(x.rows(), static_cast<Eigen::Index>(it->size()));
  for (size_t j = 0; j < it->size(); ++j) {
    const nlohmann::json& index = (*it)[j];
    if (!index.is_number_integer() || index.get<int64_t>() < 0 || index.get<int64_t>() >= x.cols()) {
      return InvalidArgument("columns: index " + index.dump() + " is outside 0.." + std::to_string(x.cols() - 1));
    }
    out.col(static_cast<Eigen::Index>(j)) = x.col(index.get<Eigen::Index>());
  }
  return out;
}

}  // namespace

Result<Matrix> RunOperation(const OperationInfo& op, std::span<const Matrix* const> inputs,
                            const nlohmann::json& params) {
  if (static_cast<int>(inputs.size()) != op.arity) {
    return InvalidArgument(std::string(op.name) + " takes " + std::to_string(op.arity) + " input(s), got " +
                           std::to_string(inputs.size()));
  }
  const Matrix& x = *inputs[0];
  const std::string_view name = op.name;
  if (name == "colSums") return Matrix(x.colwise().sum());
  if (name == "rowSums") return Matrix(x.rowwise().sum());
  if (name == "sum") return Matrix(Matrix::Constant(1, 1, x.sum()));
  if (name == "tsmm") return TransposeSelfProduct(x);
  if (name == "columns") return SelectColumns(x, params);
  if (name == "colSumSq") return Matrix(x.colwise().squaredNorm());
  if (name == "colMins" || name == "colMaxs") {
    if (x.rows() == 0) return InvalidArgument(std::string(name) + " of a matrix without rows");
    return name == "colMins" ? Matrix(x.colwise().minCoeff()) : Matrix(x.colwise().maxCoeff());
  }
  if (name == "rowSumSq") return Matrix(x.rowwise().squaredNorm());
  if (name == "rowMins" || name == "rowMaxs") {
    if (x.cols() == 0) return InvalidArgument(std::string(name) + " of a matrix without columns");
    return name == "rowMins" ? Matrix(x.rowwise().minCoeff()) : Matrix(x.rowwise().maxCoeff());
  }
  if (op.arity == 1) return ElementwiseUnary(name, x);
  const Matrix& y = *inputs[1];
  if (name == "matmul") {
    if (x.cols() != y.rows()) return ShapeError(op, x, y);
    return Matrix(x * y);
  }
  if (name == "tsmv") {
    if (x.cols() != y.rows()) return ShapeError(op, x, y);
    return Matrix(x.transpose() * (x * y));
  }
  if (name == "tmatmul") {
    if (x.rows() != y.rows()) return ShapeError(op, x, y);
    return Matrix(x.transpose() * y);
  }
  if (name == "tXwXv") {
    const Matrix& v = *inputs[2];
    if (y.rows() != x.rows() || y.cols() != 1 || v.rows() != x.cols()) {
      return InvalidArgument("tXwXv: w must be nrow(X) x 1 and v ncol(X) x k");
    }
    return Matrix(x.transpose() * ((x * v).array().colwise() * y.col(0).array()).matrix());
  }
  const bool reverse = params.is_object() && params.value("reverse", false);
  return ElementwiseBinary(name, x, y, reverse);
}

}  // namespace fedra

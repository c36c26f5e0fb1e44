#include "master/tensor/federated_ops.h"

namespace fedra {
namespace {

using PartOp = FederatedMatrix::PartOp;

bool ByRow(const FederatedMatrix& x) { return x.map().partitioning() == Partitioning::kRow; }

// The site operation that computes `op` on a part of x as seen. A transposed view's parts hold
// the transposes of its blocks, so row and column operations trade places.
Op Kernel(const FederatedMatrix& x, Op op) { return x.transposed() ? Describe(op).on_transposed : op; }

// MapParts' extent for a result of x's shape: the size of the dimension x is not split along.
int64_t SameExtent(const FederatedMatrix& x) { return ByRow(x) ? x.cols() : x.rows(); }

Result<FederatedMatrix> Transposed(Result<FederatedMatrix> x) {
  if (!x.ok()) return x;
  return x->Transposed();
}

// Per-part results of a column-wise aggregate put back in column order (column partition), or
// combined over the parts with `combine` (row partition).
template <typename Combine>
Matrix Columnwise(const FederatedMatrix& x, std::vector<Matrix> parts, Combine combine) {
  if (ByRow(x)) {
    Matrix out = std::move(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) out = combine(out, parts[i]);
    return out;
  }
  Matrix out(1, x.cols());
  for (size_t i = 0; i < parts.size(); ++i) {
    const IndexRange& r = x.map().parts()[i].range;
    out.middleCols(r.begin, r.size()) = parts[i];
  }
  return out;
}

Result<std::vector<Matrix>> Columnwise(Federation& fed, const FederatedMatrix& x, const std::vector<Op>& ops) {
  std::vector<PartOp> part_ops;
  for (Op op : ops) part_ops.push_back(PartOp{Kernel(x, op)});
  FEDRA_ASSIGN_OR_RETURN(auto per_part, x.RunOnParts(fed, part_ops));
  std::vector<Matrix> out;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (x.transposed()) {
      for (Matrix& m : per_part[k]) m.transposeInPlace();
    }
    const bool is_min = ops[k] == Op::kColMins, is_max = ops[k] == Op::kColMaxs;
    out.push_back(Columnwise(x, std::move(per_part[k]), [&](const Matrix& a, const Matrix& b) -> Matrix {
      if (is_min) return a.cwiseMin(b);
      if (is_max) return a.cwiseMax(b);
      return a + b;
    }));
  }
  return out;
}

// The slice of a broadcast vector each part needs: a column vector follows a row partition, a
// row vector a column partition; anything else goes whole to every part.
std::vector<Matrix> SliceForParts(const FederatedMatrix& x, const Matrix& v) {
  const bool by_row = ByRow(x);
  const bool slice = by_row ? (v.cols() == 1 && v.rows() == x.rows() && x.rows() > 1)
                            : (v.rows() == 1 && v.cols() == x.cols() && x.cols() > 1);
  if (!slice) return {v};
  std::vector<Matrix> out;
  for (const FederatedPart& p : x.map().parts()) {
    out.push_back(by_row ? Matrix(v.middleRows(p.range.begin, p.range.size()))
                         : Matrix(v.middleCols(p.range.begin, p.range.size())));
  }
  return out;
}

Status RequireRowPartition(const FederatedMatrix& x, const std::string& what) {
  if (ByRow(x)) return Status::Ok();
  return FailedPrecondition(what + " of a column-partitioned matrix would combine row-level values across sites");
}

}  // namespace

Result<FederatedMatrix> Elementwise(Federation& fed, const FederatedMatrix& x, Op op, const Matrix& value,
                                    bool reverse) {
  if (x.transposed()) return Transposed(Elementwise(fed, x.Transposed(), op, value.transpose(), reverse));
  const bool scalar = value.rows() == 1 && value.cols() == 1;
  const bool row_vector = value.rows() == 1 && value.cols() == x.cols();
  const bool col_vector = value.cols() == 1 && value.rows() == x.rows();
  if (!scalar && !row_vector && !col_vector) {
    return InvalidArgument(std::string(Describe(op).name) + ": cannot broadcast " + std::to_string(value.rows()) + "x" +
                           std::to_string(value.cols()) + " over " + std::to_string(x.rows()) + "x" +
                           std::to_string(x.cols()));
  }
  const PartOp part_op{reverse ? Instruction(op, ReversedParams()) : Instruction(op), nullptr, true};
  return x.MapParts(fed, part_op, SliceForParts(x, value), SameExtent(x), x.column_names());
}

Result<FederatedMatrix> Elementwise(Federation& fed, const FederatedMatrix& x, Op op, const FederatedMatrix& y) {
  if (y.rows() != x.rows() || y.cols() != x.cols()) {
    return InvalidArgument(std::string(Describe(op).name) + ": shapes differ");
  }
  if (x.transposed() && y.transposed()) return Transposed(Elementwise(fed, x.Transposed(), op, y.Transposed()));
  return x.MapParts(fed, PartOp{op, &y}, {}, SameExtent(x), x.column_names());
}

Result<FederatedMatrix> Apply(Federation& fed, const FederatedMatrix& x, Op fn) {
  if (x.transposed()) return Transposed(Apply(fed, x.Transposed(), fn));
  return x.MapParts(fed, PartOp{fn}, {}, SameExtent(x), x.column_names());
}

Result<double> Sum(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(Matrix sums, x.ColSums(fed));
  return sums.sum();
}

Result<double> Mean(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(double sum, Sum(fed, x));
  return sum / static_cast<double>(x.rows() * x.cols());
}

Result<Matrix> ColMeans(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(Matrix sums, x.ColSums(fed));
  return Matrix(sums / static_cast<double>(x.rows()));
}

Result<Matrix> ColVars(Federation& fed, const FederatedMatrix& x) {
  if (x.rows() < 2) return InvalidArgument("colVars needs at least two rows");
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> m, Columnwise(fed, x, {Op::kColSums, Op::kColSumSq}));
  const double n = static_cast<double>(x.rows());
  return Matrix(((m[1].array() - m[0].array().square() / n) / (n - 1)).cwiseMax(0.0));
}

Result<Matrix> ColMins(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> m, Columnwise(fed, x, {Op::kColMins}));
  return std::move(m[0]);
}

Result<Matrix> ColMaxs(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> m, Columnwise(fed, x, {Op::kColMaxs}));
  return std::move(m[0]);
}

Result<Eigen::VectorXd> ClassCounts(Federation& fed, const FederatedMatrix& y) {
  if (y.cols() != 1 || y.transposed()) return InvalidArgument("class counts need one label column");
  FEDRA_ASSIGN_OR_RETURN(auto per_part, y.RunOnParts(fed, {PartOp{ClassCountsParams{}}}));
  Eigen::VectorXd counts = Eigen::VectorXd::Zero(0);
  for (const Matrix& part : per_part[0]) {
    if (part.cols() > counts.size()) counts.conservativeResizeLike(Eigen::VectorXd::Zero(part.cols()));
    counts.head(part.cols()) += part.row(0).transpose();
  }
  return counts;
}

Result<double> Min(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(Matrix m, ColMins(fed, x));
  return m.minCoeff();
}

Result<double> Max(Federation& fed, const FederatedMatrix& x) {
  FEDRA_ASSIGN_OR_RETURN(Matrix m, ColMaxs(fed, x));
  return m.maxCoeff();
}

Result<FederatedMatrix> RowSums(Federation& fed, const FederatedMatrix& x) {
  FEDRA_RETURN_IF_ERROR(RequireRowPartition(x, "rowSums"));
  if (x.transposed()) {
    // rowSums(t(X)) = t(colSums(X)) for a column-partitioned X: one sum per part, kept there.
    const FederatedMatrix base = x.Transposed();
    return Transposed(base.MapParts(fed, PartOp{Op::kColSums}, {}, 1, base.column_names()));
  }
  return x.MapParts(fed, PartOp{Op::kRowSums}, {}, 1, {"rowSums"});
}

Result<FederatedMatrix> MatMul(Federation& fed, const FederatedMatrix& x, const Matrix& v) {
  FEDRA_RETURN_IF_ERROR(RequireRowPartition(x, "X %*% v"));
  if (v.rows() != x.cols())
    return InvalidArgument("X %*% v: v has " + std::to_string(v.rows()) + " rows, X " + std::to_string(x.cols()) +
                           " columns");
  std::vector<std::string> names;
  for (Eigen::Index j = 0; j < v.cols(); ++j) names.push_back("c" + std::to_string(j));
  return x.MapParts(fed, PartOp{Kernel(x, Op::kMatmul), nullptr, true}, {v}, v.cols(), std::move(names));
}

Result<Matrix> TransposeMatMul(Federation& fed, const FederatedMatrix& x, const Matrix& v) {
  if (v.rows() != x.rows())
    return InvalidArgument("t(X) %*% v: v has " + std::to_string(v.rows()) + " rows, X " + std::to_string(x.rows()));
  // Row partition: each part gets its rows of v, results sum. Column partition: each part gets
  // all of v and answers for its own columns.
  std::vector<Matrix> broadcast = {v};
  if (ByRow(x)) {
    broadcast.clear();
    for (const FederatedPart& p : x.map().parts()) broadcast.push_back(v.middleRows(p.range.begin, p.range.size()));
  }
  FEDRA_ASSIGN_OR_RETURN(auto per_part, x.RunOnParts(fed, {PartOp{Kernel(x, Op::kTmatmul), nullptr, true}}, broadcast));
  Matrix out = Matrix::Zero(x.cols(), v.cols());
  for (size_t i = 0; i < per_part[0].size(); ++i) {
    const IndexRange& r = x.map().parts()[i].range;
    if (ByRow(x)) {
      out += per_part[0][i];
    } else {
      out.middleRows(r.begin, r.size()) = per_part[0][i];
    }
  }
  return out;
}

Result<Matrix> TransposeWeightedProduct(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& w,
                                        const Matrix& v) {
  FEDRA_RETURN_IF_ERROR(RequireRowPartition(x, "t(X) %*% (w * (X %*% v))"));
  if (w.cols() != 1 || v.rows() != x.cols()) {
    return InvalidArgument("t(X) %*% (w * (X %*% v)): w must have one column and v ncol(X) rows");
  }
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, x.SumOverParts(fed, {PartOp{Op::kTXwXv, &w, true}}, &v));
  return std::move(sums[0]);
}

Result<Matrix> TransposeMatMul(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y) {
  FEDRA_RETURN_IF_ERROR(RequireRowPartition(x, "t(X) %*% Y"));
  FEDRA_ASSIGN_OR_RETURN(std::vector<Matrix> sums, x.SumOverParts(fed, {PartOp{Op::kTmatmul, &y}}));
  return std::move(sums[0]);
}

}  // namespace fedra

// R-style linear algebra over federated matrices. Each call is one federated step (one batch per
// site, sites in parallel). Results that aggregate come back to the master as local matrices;
// row-level results stay at the sites as new federated matrices. The sites decide what may
// leave (see federated/privacy.h). Every operation accepts transposed views (X.Transposed())
// unless it says otherwise: the master picks the site kernels that match the stored blocks.
#pragma once

#include <string>

#include "common/matrix.h"
#include "master/tensor/federated_matrix.h"

namespace fedra {

// X op V for op in kAdd kSub kMul kDiv kLt kLe kGt kGe kEq kNe, V a 1x1 scalar, a 1 x ncol row vector or an
// nrow x 1 column vector (sliced to each part by the master); `reverse` computes V op X.
Result<FederatedMatrix> Elementwise(Federation& fed, const FederatedMatrix& x, Op op, const Matrix& value,
                                    bool reverse = false);
// X op Y for Y partitioned exactly like X.
Result<FederatedMatrix> Elementwise(Federation& fed, const FederatedMatrix& x, Op op, const FederatedMatrix& y);
// f(X) for f in kExp kLog kAbs kSqrt kSigmoid kRound.
Result<FederatedMatrix> Apply(Federation& fed, const FederatedMatrix& x, Op fn);

// Aggregates.
Result<double> Sum(Federation& fed, const FederatedMatrix& x);
Result<double> Mean(Federation& fed, const FederatedMatrix& x);
Result<Matrix> ColMeans(Federation& fed, const FederatedMatrix& x);
// Sample variances (n - 1 denominator), 1 x ncol, from one step of column sums and sums of squares.
Result<Matrix> ColVars(Federation& fed, const FederatedMatrix& x);
Result<Matrix> ColMins(Federation& fed, const FederatedMatrix& x);
Result<Matrix> ColMaxs(Federation& fed, const FederatedMatrix& x);
Result<double> Min(Federation& fed, const FederatedMatrix& x);
Result<double> Max(Federation& fed, const FederatedMatrix& x);
// rowSums(X): nrow x 1, stays at the sites (row-partitioned X).
Result<FederatedMatrix> RowSums(Federation& fed, const FederatedMatrix& x);

// The rows of each class in a one-column label matrix of class codes 0..K-1, over all sites (K
// the largest code anywhere plus one). Sites refuse labels that are not class codes; a
// private-aggregate site leaves out classes it holds on too few rows (count 0).
Result<Eigen::VectorXd> ClassCounts(Federation& fed, const FederatedMatrix& y);

// Products.
// X %*% V for a broadcast ncol x k V: nrow x k, stays at the sites (row-partitioned X, which
// includes t(Y) for a column-partitioned Y).
Result<FederatedMatrix> MatMul(Federation& fed, const FederatedMatrix& x, const Matrix& v);
// t(X) %*% V for a broadcast nrow x k V: ncol x k at the master.
Result<Matrix> TransposeMatMul(Federation& fed, const FederatedMatrix& x, const Matrix& v);
// t(X) %*% (w * (X %*% v)) in one step, for w (nrow x 1) row-partitioned exactly like X and a
// broadcast ncol x k v: ncol x k at the master (the core of IRLS and CG on weighted problems).
// Not for transposed views.
Result<Matrix> TransposeWeightedProduct(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& w,
                                        const Matrix& v);
// t(X) %*% Y for Y row-partitioned exactly like X: ncol(X) x ncol(Y) at the master. Not for
// transposed views.
Result<Matrix> TransposeMatMul(Federation& fed, const FederatedMatrix& x, const FederatedMatrix& y);

}  // namespace fedra

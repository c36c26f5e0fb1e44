#include "site-agent/dp_release.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace fedra {
namespace {

double Width(const Interval& a) { return a.hi - a.lo; }

Interval Add(const Interval& a, const Interval& b) { return {a.lo + b.lo, a.hi + b.hi}; }
Interval Subtract(const Interval& a, const Interval& b) { return {a.lo - b.hi, a.hi - b.lo}; }
Interval Scale(const Interval& a, double c) {
  return c >= 0 ? Interval{a.lo * c, a.hi * c} : Interval{a.hi * c, a.lo * c};
}

// The range of a * b for a in `a`, b in `b`.
Interval Product(const Interval& a, const Interval& b) {
  const double p[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return {*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
}

// The range of a^2 for a in `a`.
Interval Square(const Interval& a) {
  const double top = std::max(a.lo * a.lo, a.hi * a.hi);
  const double bottom = a.lo <= 0 && a.hi >= 0 ? 0 : std::min(a.lo * a.lo, a.hi * a.hi);
  return {bottom, top};
}

double SquaresWidth2(const std::vector<Interval>& x) {
  double total = 0;
  for (const Interval& a : x) total += Width(Square(a)) * Width(Square(a));
  return total;
}

double SumsWidth2(const std::vector<Interval>& x) {
  double total = 0;
  for (const Interval& a : x) total += Width(a) * Width(a);
  return total;
}

}  // namespace

Result<double> ReleaseSensitivity(DpForm form, const std::vector<Interval>& x, const std::vector<Interval>& y,
                                  const Matrix* centers, int64_t k) {
  switch (form) {
    case DpForm::kNone: break;
    case DpForm::kSums: return std::sqrt(SumsWidth2(x));
    case DpForm::kRowTotals: {
      double total = 0;
      for (const Interval& a : x) total += Width(a);
      return total;
    }
    case DpForm::kSquares: return std::sqrt(SquaresWidth2(x));
    case DpForm::kMoments: return std::sqrt(SumsWidth2(x) + SquaresWidth2(x));
    case DpForm::kCrossProducts: {
      double total = 0;
      if (y.empty()) {  // t(X) %*% X: the noise goes on the upper triangle, which is mirrored
        for (size_t j = 0; j < x.size(); ++j) {
          total += Width(Square(x[j])) * Width(Square(x[j]));
          for (size_t l = j + 1; l < x.size(); ++l) total += std::pow(Width(Product(x[j], x[l])), 2);
        }
      } else {
        for (const Interval& a : x) {
          for (const Interval& b : y) total += std::pow(Width(Product(a, b)), 2);
        }
      }
      return std::sqrt(total);
    }
    case DpForm::kClusterSums: {
      if (centers == nullptr || k < 1 || centers->rows() % k != 0)
        return InvalidArgument("k-means noise needs the centres");
      // A replaced row changes its cluster's contribution (x, 1, |x - c|^2) in each block of
      // centres, or leaves one cluster for another: at most |x - x'|^2 + 2 + 2 max|x - c|^4.
      double norm2 = 0;
      for (const Interval& a : x) norm2 += Square(a).hi;
      double dist2 = 0;
      for (Eigen::Index c = 0; c < centers->rows(); ++c) {
        double d = 0;
        for (size_t j = 0; j < x.size(); ++j) {
          const double cj = (*centers)(c, static_cast<Eigen::Index>(j));
          d += std::max(std::pow(x[j].lo - cj, 2), std::pow(x[j].hi - cj, 2));
        }
        dist2 = std::max(dist2, d);
      }
      const double blocks = static_cast<double>(centers->rows() / k);
      return std::sqrt(blocks * (4 * norm2 + 2 + 2 * dist2 * dist2));
    }
  }
  return FailedPrecondition("this statistic has no noised form for dp-aggregate data");
}

void AddGaussianNoise(Matrix* value, double sigma, bool symmetric) {
  uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, sigma);
  for (Eigen::Index j = 0; j < value->cols(); ++j) {
    for (Eigen::Index i = 0; i < value->rows(); ++i) {
      if (symmetric && i > j) continue;
      (*value)(i, j) += noise(rng);
    }
  }
  if (symmetric) value->triangularView<Eigen::StrictlyLower>() = value->transpose();
}

Result<std::vector<Interval>> PropagateBounds(Op op, std::span<const Matrix* const> inputs,
                                              std::span<const std::vector<Interval>* const> bounds,
                                              const nlohmann::json& params) {
  const std::vector<Interval>& x = *bounds[0];
  std::vector<Interval> out;
  if (op == Op::kSplitRows) return x;
  if (op == Op::kRowSums) {
    Interval total{0, 0};
    for (const Interval& a : x) total = Add(total, a);
    return std::vector<Interval>{total};
  }
  if (op == Op::kColumns) {
    FEDRA_ASSIGN_OR_RETURN(ColumnsParams columns, ColumnsParams::Parse(params));
    for (int64_t index : columns.indices) out.push_back(x.at(static_cast<size_t>(index)));
    return out;
  }
  if (op == Op::kMatmul) {
    const Matrix& v = *inputs[1];
    for (Eigen::Index k = 0; k < v.cols(); ++k) {
      Interval total{0, 0};
      for (Eigen::Index j = 0; j < v.rows(); ++j) total = Add(total, Scale(x.at(static_cast<size_t>(j)), v(j, k)));
      out.push_back(total);
    }
    return out;
  }
  const bool additive = op == Op::kAdd || op == Op::kSub, scaling = op == Op::kMul || op == Op::kDiv;
  const bool aligned = bounds.size() > 1 && !bounds[1]->empty();  // Y: rows of the same dataset
  if (aligned && scaling) return FailedPrecondition("no bound for a product of two row-level values");
  if ((additive || scaling) && (aligned || inputs[1]->rows() == 1)) {
    const Matrix& b = *inputs[1];
    const bool reverse = IsReversed(params);
    for (size_t j = 0; j < x.size(); ++j) {
      // The operand of column j: the bound of Y's column, or a broadcast scalar or row vector.
      Interval y{0, 0};
      if (aligned) {
        y = bounds[1]->size() == 1 ? (*bounds[1])[0] : bounds[1]->at(j);
      } else {
        const double c = b.size() == 1 ? b(0, 0) : b(0, static_cast<Eigen::Index>(j));
        if (!std::isfinite(c)) return FailedPrecondition("no bound for an operand that is not finite");
        y = {c, c};
      }
      if (op == Op::kAdd)
        out.push_back(Add(x[j], y));
      else if (op == Op::kSub)
        out.push_back(reverse ? Subtract(y, x[j]) : Subtract(x[j], y));
      else if (op == Op::kMul)
        out.push_back(Scale(x[j], y.lo));
      else if (y.lo == 0 || reverse)
        return FailedPrecondition("no bound for this division");
      else
        out.push_back(Scale(x[j], 1 / y.lo));
    }
    return out;
  }
  return FailedPrecondition("no bound is known for " + std::string(Describe(op).name) +
                            " (dp-aggregate rows allow columns, + - * / by broadcast values, %*% and rowSums)");
}

}  // namespace fedra

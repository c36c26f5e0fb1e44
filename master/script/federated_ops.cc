#include "master/script/federated_ops.h"

#include <cmath>
#include <map>
#include <set>

namespace fedra::script {
namespace {

const std::map<std::string, Op>& BinaryOps() {
  static const std::map<std::string, Op> ops = {
      {"+", Op::kAdd}, {"-", Op::kSub}, {"*", Op::kMul}, {"/", Op::kDiv}, {"<", Op::kLt},
      {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe}, {"==", Op::kEq}, {"!=", Op::kNe},
  };
  return ops;
}

bool Commutes(Op op) { return op == Op::kAdd || op == Op::kMul || op == Op::kEq || op == Op::kNe; }

std::string Shape(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

const std::string kTransposedUse =
    "t(X) of a federated matrix can only be multiplied on the left of %*% (t(X) %*% Y): its rows stay at the "
    "sites";

// The federated node of `v` (untransposed), or an error naming `what`.
Result<NodePtr> Federated(const Value& v, const std::string& what) {
  const NodePtr* n = std::get_if<NodePtr>(&v);
  if (!n || !(*n)->federated()) return InvalidArgument(what + " needs a federated matrix here");
  if ((*n)->kind == Node::Kind::kTransposed) return InvalidArgument(kTransposedUse);
  return *n;
}

// A computed local value as a matrix (numbers and booleans as 1x1).
Result<Matrix> LocalMatrix(const Value& v, const std::string& what) {
  if (const auto* m = std::get_if<Matrix>(&v)) return *m;
  if (const auto* d = std::get_if<double>(&v)) return Matrix(Matrix::Constant(1, 1, *d));
  if (const auto* b = std::get_if<bool>(&v)) return Matrix(Matrix::Constant(1, 1, *b ? 1 : 0));
  return InvalidArgument(what + " needs a number or a matrix, not a " + TypeName(v));
}

bool SameLayout(const Node& a, const Node& b) {
  if (a.parts.size() != b.parts.size()) return false;
  for (size_t i = 0; i < a.parts.size(); ++i) {
    if (a.parts[i].site != b.parts[i].site || a.parts[i].range.begin != b.parts[i].range.begin ||
        a.parts[i].range.end != b.parts[i].range.end) {
      return false;
    }
  }
  return true;
}

Status RequireAlike(const Node& a, const Node& b, const std::string& what) {
  if (SameLayout(a, b)) return Status::Ok();
  return InvalidArgument(what + ": the two federated matrices are not partitioned alike (the same sites and rows); " +
                         "read both from the same dataset");
}

// The step's op, if `n` is a row-level step not made yet.
std::optional<Op> PendingOp(const NodePtr& n) {
  if (!n || !n->step || n->matrix) return std::nullopt;
  return n->step->instruction.op();
}

// A ^ 2 (A * A): A, else null.
NodePtr SquareOf(const NodePtr& n) {
  if (PendingOp(n) != Op::kMul || !n->step->aligned || n->step->broadcast) return nullptr;
  return n->step->aligned->lineage == n->step->x->lineage ? n->step->x : nullptr;
}

// X %*% v for this X: v, else null.
const Matrix* ProductOf(const NodePtr& n, const Node& x) {
  if (PendingOp(n) != Op::kMatmul || n->step->x->lineage != x.lineage || !n->step->broadcast) return nullptr;
  return &*n->step->broadcast;
}

std::vector<std::string> Numbered(int64_t cols) {
  std::vector<std::string> names;
  for (int64_t j = 0; j < cols; ++j) names.push_back("V" + std::to_string(j + 1));
  return names;
}

// A step on x with a local value: a scalar or row goes whole, a column or matrix by rows.
Result<SiteStep> WithLocal(const NodePtr& x, Instruction instruction, const Matrix& v, const std::string& what) {
  SiteStep step{std::move(instruction), x, nullptr, v, false};
  if ((v.rows() == 1 && v.cols() == 1) || (v.rows() == 1 && v.cols() == x->cols)) return step;
  if (v.rows() == x->rows && (v.cols() == 1 || v.cols() == x->cols)) {
    step.slice_rows = true;
    return step;
  }
  return InvalidArgument(what + ": a " + Shape(v.rows(), v.cols()) + " matrix does not fit a federated " +
                         Shape(x->rows, x->cols) + " one (give a scalar, a 1x" + std::to_string(x->cols) + " row, a " +
                         std::to_string(x->rows) + "x1 column or the same shape)");
}

// A local value computed from aggregates (matrices) when they come back.
Result<Value> LocalOf(Graph& g, std::vector<Value> inputs, SourcePos pos,
                      std::function<Value(const std::vector<Matrix>&)> f) {
  return g.Defer(
      [f](std::vector<Value> in) -> Result<Value> {
        std::vector<Matrix> m;
        for (Value& v : in) m.push_back(std::get<Matrix>(std::move(v)));
        return f(m);
      },
      std::move(inputs), pos);
}

Result<Value> MapOp(Graph& g, const NodePtr& x, Instruction instruction, int64_t cols, SourcePos pos,
                    std::string what) {
  std::vector<std::string> names = cols == x->cols ? x->column_names : Numbered(cols);
  return g.Map(SiteStep{std::move(instruction), x, nullptr, std::nullopt, false}, cols, std::move(names), pos,
               std::move(what));
}

Result<Value> Agg(Graph& g, const NodePtr& x, Op op, int64_t rows, int64_t cols, SourcePos pos, std::string what) {
  return g.Aggregate(SiteStep{op, x, nullptr, std::nullopt, false}, rows, cols, pos, std::move(what));
}

}  // namespace

std::string DescribeFederated(const Node& n) {
  std::set<std::string> sites;
  std::string list;
  for (const FederatedPart& p : n.parts) {
    if (sites.insert(p.site).second) list += (list.empty() ? "" : ", ") + p.site;
  }
  return std::string(n.kind == Node::Kind::kTransposed ? "the transpose of " : "") + "a federated " +
         Shape(n.rows, n.cols) + " matrix at sites " + list;
}

bool IsPendingGram(const Value& v) {
  const NodePtr* n = std::get_if<NodePtr>(&v);
  return n && (*n)->kind == Node::Kind::kLocal && (*n)->step && (*n)->step->instruction.op() == Op::kTsmm;
}

bool IsFederatedProduct(const Value& a, const Value& b) { return IsFederated(a) || IsFederated(b) || IsPendingGram(a); }

Result<Value> FederatedBinary(Graph& g, const std::string& op, const Value& a, const Value& b, SourcePos pos) {
  if (op == "^") {
    FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(a, "^"));
    const double* k = std::get_if<double>(&b);
    if (!k || *k != 2) return InvalidArgument("X ^ k of a federated X is supported for k = 2 only (X ^ 2 is X * X)");
    return g.Map(SiteStep{Op::kMul, x, x, std::nullopt, false}, x->cols, x->column_names, pos, "X ^ 2");
  }
  const auto it = BinaryOps().find(op);
  if (it == BinaryOps().end()) {
    return InvalidArgument("'" + op + "' is not defined on federated matrices (they take + - * / and comparisons)");
  }
  const Op code = it->second;
  const std::string what = "X " + op + " Y";
  const bool a_fed = IsFederated(a), b_fed = IsFederated(b);
  if (a_fed && b_fed) {
    FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(a, what));
    FEDRA_ASSIGN_OR_RETURN(NodePtr y, Federated(b, what));
    FEDRA_RETURN_IF_ERROR(RequireAlike(*x, *y, what));
    bool reverse = false;
    // The site broadcasts its second input: the wider one goes first.
    if (x->cols == 1 && y->cols > 1) {
      std::swap(x, y);
      reverse = !Commutes(code);
    }
    if (y->cols != x->cols && y->cols != 1) {
      return InvalidArgument(what + ": federated matrices of " + Shape(x->rows, x->cols) + " and " +
                             Shape(y->rows, y->cols) + " do not fit");
    }
    return g.Map(
        SiteStep{Instruction(code, reverse ? ReversedParams() : nlohmann::json::object()), x, y, std::nullopt, false},
        x->cols, x->column_names, pos, what);
  }
  const bool reverse = !a_fed;
  FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(a_fed ? a : b, what));
  FEDRA_ASSIGN_OR_RETURN(Matrix v, LocalMatrix(a_fed ? b : a, what));
  const bool reversed = reverse && !Commutes(code);
  FEDRA_ASSIGN_OR_RETURN(
      SiteStep step, WithLocal(x, Instruction(code, reversed ? ReversedParams() : nlohmann::json::object()), v, what));
  return g.Map(std::move(step), x->cols, x->column_names, pos, what);
}

Result<Value> FederatedUnary(Graph& g, const std::string& op, const Value& a, SourcePos pos) {
  FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(a, op + "X"));
  if (op == "+") return a;
  const Op code = op == "-" ? Op::kMul : Op::kEq;  // -X = X * -1; !X = X == 0
  return g.Map(SiteStep{code, x, nullptr, Matrix::Constant(1, 1, op == "-" ? -1 : 0), false}, x->cols, x->column_names,
               pos, op + "X");
}

Result<Value> FederatedMatMul(Graph& g, const Value& a, const Value& b, SourcePos pos) {
  const NodePtr* left = std::get_if<NodePtr>(&a);
  // (t(X) %*% X) %*% v, with t(X) %*% X not computed: t(X) %*% (X %*% v) at the sites.
  if (IsPendingGram(a) && !IsFederated(b)) {
    const NodePtr x = (*left)->step->x;
    FEDRA_ASSIGN_OR_RETURN(Matrix v, LocalMatrix(b, "%*%"));
    if (v.rows() != x->cols) {
      return InvalidArgument("%*%: t(X) %*% X is " + Shape(x->cols, x->cols) + " and the right side " +
                             Shape(v.rows(), v.cols()));
    }
    const int64_t k = v.cols();
    return g.Aggregate(SiteStep{Op::kTsmv, x, nullptr, std::move(v), false}, x->cols, k, pos, "t(X) %*% X %*% v");
  }
  if (left && (*left)->kind == Node::Kind::kTransposed) {
    const NodePtr x = (*left)->x;
    if (!IsFederated(b)) {
      // t(X) %*% V for a local V with X's rows: each part gets its rows of V.
      FEDRA_ASSIGN_OR_RETURN(Matrix v, LocalMatrix(b, "%*%"));
      if (v.rows() != x->rows) {
        return InvalidArgument("%*%: t(X) is " + Shape(x->cols, x->rows) + " and the right side " +
                               Shape(v.rows(), v.cols()));
      }
      const int64_t k = v.cols();
      return g.Aggregate(SiteStep{Op::kTmatmul, x, nullptr, std::move(v), true}, x->cols, k, pos, "t(X) %*% V");
    }
    FEDRA_ASSIGN_OR_RETURN(NodePtr y, Federated(b, "%*%"));
    FEDRA_RETURN_IF_ERROR(RequireAlike(*x, *y, "t(X) %*% Y"));
    if (y->lineage == x->lineage) {
      return g.Aggregate(SiteStep{Op::kTsmm, x, nullptr, std::nullopt, false}, x->cols, x->cols, pos, "t(X) %*% X");
    }
    if (const Matrix* v = ProductOf(y, *x)) {
      return g.Aggregate(SiteStep{Op::kTsmv, x, nullptr, *v, false}, x->cols, v->cols(), pos, "t(X) %*% (X %*% v)");
    }
    if (PendingOp(y) == Op::kMul && y->step->aligned) {
      // t(X) %*% (w * (X %*% v)), in either order of the product.
      for (const auto& [product, w] :
           {std::pair{y->step->x, y->step->aligned}, std::pair{y->step->aligned, y->step->x}}) {
        const Matrix* v = ProductOf(product, *x);
        if (v && w->cols == 1) {
          return g.Aggregate(SiteStep{Op::kTXwXv, x, w, *v, false}, x->cols, v->cols(), pos,
                             "t(X) %*% (w * (X %*% v))");
        }
      }
    }
    return g.Aggregate(SiteStep{Op::kTmatmul, x, y, std::nullopt, false}, x->cols, y->cols, pos, "t(X) %*% Y");
  }
  if (IsFederated(a) && !IsFederated(b)) {
    FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(a, "%*%"));
    FEDRA_ASSIGN_OR_RETURN(Matrix v, LocalMatrix(b, "%*%"));
    if (v.rows() != x->cols) {
      return InvalidArgument("%*%: the federated matrix is " + Shape(x->rows, x->cols) + " and the right side " +
                             Shape(v.rows(), v.cols()));
    }
    const int64_t k = v.cols();
    return g.Map(SiteStep{Op::kMatmul, x, nullptr, std::move(v), false}, k, Numbered(k), pos, "X %*% V");
  }
  return InvalidArgument(
      "%*% with a federated matrix is supported as X %*% V (V local) and t(X) %*% Y; for V %*% X write "
      "t(t(X) %*% t(V))");
}

Result<Value> FederatedIndex(Graph& g, const Value& value, const Value* rows, const Value* cols, SourcePos pos) {
  FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(value, "indexing"));
  if (rows) {
    return InvalidArgument(
        "rows of a federated matrix cannot be chosen by index: they stay at the sites (choose "
        "columns, X[, j])");
  }
  if (!cols) return value;
  FEDRA_ASSIGN_OR_RETURN(Matrix picked, LocalMatrix(*cols, "a column index"));
  ColumnsParams params;
  std::vector<std::string> names;
  for (Eigen::Index i = 0; i < picked.size(); ++i) {
    const double j = picked.data()[i];
    if (j != std::floor(j) || j < 1 || j > static_cast<double>(x->cols)) {
      return InvalidArgument("column index " + std::to_string(j) + " is out of range 1.." + std::to_string(x->cols));
    }
    params.indices.push_back(static_cast<int64_t>(j) - 1);
    const size_t k = static_cast<size_t>(j) - 1;
    names.push_back(k < x->column_names.size() ? x->column_names[k] : "V" + std::to_string(k + 1));
  }
  const auto k = static_cast<int64_t>(params.indices.size());
  return g.Map(SiteStep{Instruction(Op::kColumns, params.ToJson()), x, nullptr, std::nullopt, false}, k,
               std::move(names), pos, "X[, j]");
}

Result<Value> FederatedBuiltin(Graph& g, const std::string& name, const std::vector<Value>& args, SourcePos pos,
                               bool* handled) {
  *handled = true;
  if (args.size() != 1) {
    *handled = false;
    return Value();
  }
  const NodePtr& node = std::get<NodePtr>(args[0]);
  if (name == "nrow") return Value(static_cast<double>(node->rows));
  if (name == "ncol") return Value(static_cast<double>(node->cols));
  if (name == "length") return Value(static_cast<double>(node->rows * node->cols));
  if (name == "t") {
    if (node->kind == Node::Kind::kTransposed) return Value(node->x);
    auto t = std::make_shared<Node>();
    t->kind = Node::Kind::kTransposed;
    t->pos = pos;
    t->what = "t(X)";
    t->lineage = "t(" + node->lineage + ")";
    t->rows = node->cols;
    t->cols = node->rows;
    t->parts = node->parts;
    t->x = node;
    return Value(t);
  }
  FEDRA_ASSIGN_OR_RETURN(NodePtr x, Federated(args[0], name));
  const double n = static_cast<double>(x->rows), m = static_cast<double>(x->cols);
  const NodePtr square = SquareOf(x);
  auto col_sums = [&] {
    return square ? Agg(g, square, Op::kColSumSq, 1, x->cols, pos, "colSums(X ^ 2)")
                  : Agg(g, x, Op::kColSums, 1, x->cols, pos, "colSums");
  };
  // One aggregate, finished at the master by `f`.
  auto finish = [&](Result<Value> aggregate, std::function<Value(const std::vector<Matrix>&)> f) -> Result<Value> {
    FEDRA_ASSIGN_OR_RETURN(Value v, std::move(aggregate));
    return LocalOf(g, {std::move(v)}, pos, std::move(f));
  };
  if (name == "sum") {
    if (square) return finish(col_sums(), [](const auto& in) { return Value(in[0].sum()); });
    return finish(Agg(g, x, Op::kSum, 1, 1, pos, "sum"), [](const auto& in) { return Value(in[0](0, 0)); });
  }
  if (name == "mean") {
    return finish(Agg(g, x, Op::kSum, 1, 1, pos, "sum"),
                  [n, m](const auto& in) { return Value(in[0](0, 0) / (n * m)); });
  }
  if (name == "colSums") return col_sums();
  if (name == "colMeans") return finish(col_sums(), [n](const auto& in) { return Value(Matrix(in[0] / n)); });
  if (name == "colVars") {
    FEDRA_ASSIGN_OR_RETURN(Value sums, Agg(g, x, Op::kColSums, 1, x->cols, pos, "colSums"));
    FEDRA_ASSIGN_OR_RETURN(Value squares, Agg(g, x, Op::kColSumSq, 1, x->cols, pos, "colSums(X ^ 2)"));
    return LocalOf(g, {std::move(sums), std::move(squares)}, pos, [n](const auto& in) {
      return Value(Matrix((in[1].array() - in[0].array().square() / n) / (n - 1)));
    });
  }
  if (name == "colMins") return Agg(g, x, Op::kColMins, 1, x->cols, pos, "colMins");
  if (name == "colMaxs") return Agg(g, x, Op::kColMaxs, 1, x->cols, pos, "colMaxs");
  if (name == "min") {
    return finish(Agg(g, x, Op::kColMins, 1, x->cols, pos, "colMins"),
                  [](const auto& in) { return Value(in[0].minCoeff()); });
  }
  if (name == "max") {
    return finish(Agg(g, x, Op::kColMaxs, 1, x->cols, pos, "colMaxs"),
                  [](const auto& in) { return Value(in[0].maxCoeff()); });
  }
  if (name == "rowSums") {
    if (square) return MapOp(g, square, Op::kRowSumSq, 1, pos, "rowSums(X ^ 2)");
    return MapOp(g, x, Op::kRowSums, 1, pos, "rowSums");
  }
  if (name == "rowMeans") {
    FEDRA_ASSIGN_OR_RETURN(Value sums, MapOp(g, x, Op::kRowSums, 1, pos, "rowSums"));
    return g.Map(SiteStep{Op::kDiv, std::get<NodePtr>(sums), nullptr, Matrix::Constant(1, 1, m), false}, 1, {"V1"}, pos,
                 "rowMeans");
  }
  if (name == "rowMins") return MapOp(g, x, Op::kRowMins, 1, pos, "rowMins");
  if (name == "rowMaxs") return MapOp(g, x, Op::kRowMaxs, 1, pos, "rowMaxs");
  static const std::map<std::string, Op> kApply = {{"abs", Op::kAbs},         {"exp", Op::kExp},
                                                   {"log", Op::kLog},         {"sqrt", Op::kSqrt},
                                                   {"sigmoid", Op::kSigmoid}, {"round", Op::kRound}};
  if (auto it = kApply.find(name); it != kApply.end()) return MapOp(g, x, it->second, x->cols, pos, name);
  *handled = false;
  return Value();
}

}  // namespace fedra::script

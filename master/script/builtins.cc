#include "master/script/builtins.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "master/script/graph.h"

namespace fedra::script {
namespace {

std::string Shape(const Matrix& m) { return std::to_string(m.rows()) + "x" + std::to_string(m.cols()); }

const std::vector<Builtin>& Table() {
  auto one = [](std::string name) { return Builtin{std::move(name), {{"x", std::nullopt}}}; };
  static const std::vector<Builtin> table = [&] {
    std::vector<Builtin> t = {
        {"read", {{"source", std::nullopt}}},
        {"write", {{"x", std::nullopt}, {"file", std::nullopt}, {"format", Value(std::string("text"))}}},
        {"print", {{"x", std::nullopt}}},
        {"stop", {{"message", std::nullopt}}},
        {"log_metric", {{"name", std::nullopt}, {"value", std::nullopt}, {"step", Value()}}},
        {"save_model",
         {{"x", std::nullopt},
          {"algorithm", std::nullopt},
          {"features", std::nullopt},
          {"label", Value(std::string())},
          {"intercept", Value(false)},
          {"classes", Value(std::string())},
          {"name", Value(std::string("model"))}}},
        {"min", {{"x", std::nullopt}, {"y", Value()}}},
        {"max", {{"x", std::nullopt}, {"y", Value()}}},
        {"ifelse", {{"test", std::nullopt}, {"yes", std::nullopt}, {"no", std::nullopt}}},
        {"matrix", {{"data", std::nullopt}, {"rows", std::nullopt}, {"cols", std::nullopt}, {"byrow", Value(true)}}},
        {"rand",
         {{"rows", std::nullopt},
          {"cols", std::nullopt},
          {"min", Value(0.0)},
          {"max", Value(1.0)},
          {"seed", Value(-1.0)},
          {"pdf", Value(std::string("uniform"))}}},
        {"seq", {{"from", std::nullopt}, {"to", std::nullopt}, {"incr", Value(1.0)}}},
        {"solve", {{"a", std::nullopt}, {"b", std::nullopt}}},
        {"cbind", {}, true},
        {"rbind", {}, true},
        {"eigen", {{"x", std::nullopt}}},                                    // two results: the interpreter's
        {"ifdef", {{"argument", std::nullopt}, {"default", std::nullopt}}},  // the interpreter's
    };
    for (const char* name :
         {"nrow",    "ncol",    "length",  "t",        "sum",     "mean",    "colSums",   "colMeans",  "colVars",
          "colMins", "colMaxs", "rowSums", "rowMeans", "rowMins", "rowMaxs", "abs",       "exp",       "log",
          "sqrt",    "sigmoid", "round",   "floor",    "ceil",    "diag",    "as.scalar", "as.matrix", "toString"}) {
      t.push_back(one(name));
    }
    return t;
  }();
  return table;
}

using Array = Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic>;

// a op b elementwise with R's broadcasting of a scalar, a row or a column (either side).
Result<Matrix> Broadcast(const Matrix& a, const Matrix& b, const std::string& op,
                         const std::function<double(double, double)>& f) {
  const Eigen::Index rows = std::max(a.rows(), b.rows()), cols = std::max(a.cols(), b.cols());
  auto fits = [&](const Matrix& m) {
    return (m.rows() == rows || m.rows() == 1) && (m.cols() == cols || m.cols() == 1);
  };
  if (!fits(a) || !fits(b)) {
    return InvalidArgument("'" + op + "' of a " + Shape(a) + " and a " + Shape(b) +
                           " matrix: the shapes differ and neither is a scalar, a row or a column that fits");
  }
  FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(rows) * static_cast<double>(cols), "'" + op + "'"));
  Matrix out(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      out(i, j) = f(a(a.rows() == 1 ? 0 : i, a.cols() == 1 ? 0 : j), b(b.rows() == 1 ? 0 : i, b.cols() == 1 ? 0 : j));
    }
  }
  return out;
}

const std::map<std::string, std::function<double(double, double)>>& Arithmetic() {
  static const std::map<std::string, std::function<double(double, double)>> ops = {
      {"+", std::plus<double>()},
      {"-", std::minus<double>()},
      {"*", std::multiplies<double>()},
      {"/", std::divides<double>()},
      {"^", [](double a, double b) { return std::pow(a, b); }},
      {"%%", [](double a, double b) { return a - std::floor(a / b) * b; }},
      {"%/%", [](double a, double b) { return std::floor(a / b); }},
      {"<", [](double a, double b) { return a < b ? 1.0 : 0.0; }},
      {"<=", [](double a, double b) { return a <= b ? 1.0 : 0.0; }},
      {">", [](double a, double b) { return a > b ? 1.0 : 0.0; }},
      {">=", [](double a, double b) { return a >= b ? 1.0 : 0.0; }},
      {"==", [](double a, double b) { return a == b ? 1.0 : 0.0; }},
      {"!=", [](double a, double b) { return a != b ? 1.0 : 0.0; }},
      {"&", [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; }},
      {"&&", [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; }},
      {"|", [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; }},
      {"||", [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; }},
  };
  return ops;
}

bool IsLogical(const std::string& op) {
  return op == "<" || op == "<=" || op == ">" || op == ">=" || op == "==" || op == "!=" || op == "&" || op == "&&" ||
         op == "|" || op == "||";
}

bool IsScalar(const Value& v) { return std::holds_alternative<double>(v) || std::holds_alternative<bool>(v); }

Result<Matrix> Map(const Value& v, const std::string& what, const std::function<double(double)>& f) {
  FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(v, what));
  return Matrix(m.unaryExpr(f));
}

Result<Value> MapValue(const Value& v, const std::string& what, const std::function<double(double)>& f) {
  if (IsScalar(v)) {
    FEDRA_ASSIGN_OR_RETURN(double d, ToNumber(v, what));
    return Value(f(d));
  }
  FEDRA_ASSIGN_OR_RETURN(Matrix m, Map(v, what, f));
  return Value(std::move(m));
}

Result<int64_t> Count(const Value& v, const std::string& what) {
  FEDRA_ASSIGN_OR_RETURN(double d, ToNumber(v, what));
  if (!(d >= 0) || d != std::floor(d) || d > 1e9) {
    return InvalidArgument(what + " must be a whole number from 0 to 1e9, not " + FormatValue(Value(d)));
  }
  return static_cast<int64_t>(d);
}

Result<Value> MatrixBuiltin(const std::vector<Value>& args) {
  FEDRA_ASSIGN_OR_RETURN(int64_t rows, Count(args[1], "matrix: rows"));
  FEDRA_ASSIGN_OR_RETURN(int64_t cols, Count(args[2], "matrix: cols"));
  const bool byrow = std::holds_alternative<bool>(args[3]) ? std::get<bool>(args[3]) : true;
  FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(rows) * static_cast<double>(cols), "matrix"));
  std::vector<double> data;
  if (const auto* s = std::get_if<std::string>(&args[0])) {
    std::istringstream in(*s);
    for (std::string cell; in >> cell;) {
      try {
        data.push_back(std::stod(cell));
      } catch (const std::exception&) {
        return InvalidArgument("matrix: '" + cell + "' in the data string is not a number");
      }
    }
  } else {
    FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(args[0], "matrix: data"));
    // In reading order: R's column-major, or by rows.
    for (Eigen::Index i = 0; i < m.size(); ++i) data.push_back(m.data()[i]);
  }
  if (data.empty()) return InvalidArgument("matrix: no data");
  if (data.size() != 1 && static_cast<int64_t>(data.size()) != rows * cols) {
    return InvalidArgument("matrix: " + std::to_string(data.size()) + " values for a " + std::to_string(rows) + "x" +
                           std::to_string(cols) + " matrix");
  }
  Matrix out(rows, cols);
  for (int64_t k = 0; k < rows * cols; ++k) {
    const double v = data.size() == 1 ? data[0] : data[static_cast<size_t>(k)];
    if (byrow) {
      out(k / cols, k % cols) = v;
    } else {
      out(k % rows, k / rows) = v;
    }
  }
  return Value(std::move(out));
}

Result<Value> RandBuiltin(const std::vector<Value>& args) {
  FEDRA_ASSIGN_OR_RETURN(int64_t rows, Count(args[0], "rand: rows"));
  FEDRA_ASSIGN_OR_RETURN(int64_t cols, Count(args[1], "rand: cols"));
  FEDRA_ASSIGN_OR_RETURN(double lo, ToNumber(args[2], "rand: min"));
  FEDRA_ASSIGN_OR_RETURN(double hi, ToNumber(args[3], "rand: max"));
  FEDRA_ASSIGN_OR_RETURN(double seed, ToNumber(args[4], "rand: seed"));
  if (!(lo <= hi)) return InvalidArgument("rand: min must not be above max");
  if (seed != -1 && !(seed >= 0 && seed < 9007199254740992.0 && seed == std::floor(seed))) {
    return InvalidArgument("rand: the seed is -1 (random) or a whole number from 0 to 2^53");
  }
  const std::string pdf = std::holds_alternative<std::string>(args[5]) ? std::get<std::string>(args[5]) : "";
  if (pdf != "uniform" && pdf != "normal")
    return InvalidArgument("rand: pdf is \"uniform\" or \"normal\", not \"" + pdf + "\"");
  FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(rows) * static_cast<double>(cols), "rand"));
  std::mt19937_64 rng(seed < 0 ? std::random_device{}() : static_cast<uint64_t>(seed));
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::normal_distribution<double> normal(0, 1);
  Matrix out(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) out(i, j) = pdf == "normal" ? normal(rng) : uniform(rng);
  }
  return Value(std::move(out));
}

Result<Value> SeqBuiltin(const std::vector<Value>& args) {
  FEDRA_ASSIGN_OR_RETURN(double from, ToNumber(args[0], "seq: from"));
  FEDRA_ASSIGN_OR_RETURN(double to, ToNumber(args[1], "seq: to"));
  FEDRA_ASSIGN_OR_RETURN(double incr, ToNumber(args[2], "seq: incr"));
  if (incr == 0 || (to - from) / incr < 0) {
    return InvalidArgument("seq: an increment of " + FormatValue(Value(incr)) + " never goes from " +
                           FormatValue(Value(from)) + " to " + FormatValue(Value(to)));
  }
  const double count = std::floor((to - from) / incr + 1e-10) + 1;
  FEDRA_RETURN_IF_ERROR(CheckCells(count, "seq"));
  Matrix out(static_cast<Eigen::Index>(count), 1);
  for (Eigen::Index i = 0; i < out.rows(); ++i) out(i, 0) = from + static_cast<double>(i) * incr;
  return Value(std::move(out));
}

Result<Value> Bind(const std::vector<Value>& args, bool by_columns) {
  std::vector<Matrix> parts;
  Eigen::Index rows = 0, cols = 0;
  for (const Value& v : args) {
    FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(v, by_columns ? "cbind" : "rbind"));
    if (!parts.empty() && (by_columns ? m.rows() != parts[0].rows() : m.cols() != parts[0].cols())) {
      return InvalidArgument(std::string(by_columns ? "cbind" : "rbind") + ": a " + Shape(m) + " matrix does not " +
                             "fit beside a " + Shape(parts[0]) + " one");
    }
    rows = by_columns ? m.rows() : rows + m.rows();
    cols = by_columns ? cols + m.cols() : m.cols();
    FEDRA_RETURN_IF_ERROR(
        CheckCells(static_cast<double>(rows) * static_cast<double>(cols), by_columns ? "cbind" : "rbind"));
    parts.push_back(std::move(m));
  }
  Matrix out(rows, cols);
  Eigen::Index at = 0;
  for (const Matrix& m : parts) {
    if (by_columns) {
      out.middleCols(at, m.cols()) = m;
      at += m.cols();
    } else {
      out.middleRows(at, m.rows()) = m;
      at += m.rows();
    }
  }
  return Value(std::move(out));
}

std::string Number(double d) {
  if (d == std::floor(d) && std::abs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  return buf;
}

}  // namespace

Status CheckCells(double cells, const std::string& what) {
  if (cells <= static_cast<double>(kMaxLocalCells)) return Status::Ok();
  return ResourceExhausted(what + ": " + std::to_string(static_cast<int64_t>(cells)) + " cells is more than the " +
                           std::to_string(kMaxLocalCells) + " a matrix at the master may have");
}

const Builtin* FindBuiltin(const std::string& name) {
  for (const Builtin& b : Table()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

std::string BuiltinNames() {
  std::string out;
  for (const Builtin& b : Table()) out += (out.empty() ? "" : ", ") + b.name;
  return out;
}

Result<Matrix> ToMatrix(const Value& v, const std::string& what) {
  if (const auto* m = std::get_if<Matrix>(&v)) return *m;
  if (const auto* d = std::get_if<double>(&v)) return Matrix(Matrix::Constant(1, 1, *d));
  if (const auto* b = std::get_if<bool>(&v)) return Matrix(Matrix::Constant(1, 1, *b ? 1 : 0));
  return InvalidArgument(what + " needs a number or a matrix, not a " + TypeName(v));
}

Result<double> ToNumber(const Value& v, const std::string& what) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  if (const auto* m = std::get_if<Matrix>(&v)) {
    if (m->size() == 1) return (*m)(0, 0);
    return InvalidArgument(what + " needs a number, not a " + Shape(*m) + " matrix");
  }
  return InvalidArgument(what + " needs a number, not a " + TypeName(v));
}

Result<Value> LocalBinary(const std::string& op, const Value& a, const Value& b) {
  const bool strings = std::holds_alternative<std::string>(a) || std::holds_alternative<std::string>(b);
  if (strings) {
    if (op == "+") {
      std::string joined = FormatValue(a) + FormatValue(b);
      if (joined.size() > kMaxTextBytes) {
        return ResourceExhausted("a string of " + std::to_string(joined.size()) + " bytes is longer than the " +
                                 std::to_string(kMaxTextBytes) + " a script may make");
      }
      return Value(std::move(joined));
    }
    if (op == "==" || op == "!=") return Value((FormatValue(a) == FormatValue(b)) == (op == "=="));
    return InvalidArgument("'" + op + "' is not defined on strings (+ joins them)");
  }
  if (op == "%*%") {
    FEDRA_ASSIGN_OR_RETURN(Matrix x, ToMatrix(a, "%*%"));
    FEDRA_ASSIGN_OR_RETURN(Matrix y, ToMatrix(b, "%*%"));
    if (x.cols() != y.rows()) {
      return InvalidArgument("%*% of a " + Shape(x) + " and a " + Shape(y) + " matrix: the inner sizes differ");
    }
    FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(x.rows()) * static_cast<double>(y.cols()), "%*%"));
    return Value(Matrix(x * y));
  }
  if (op == ":") {
    FEDRA_ASSIGN_OR_RETURN(double from, ToNumber(a, "':'"));
    FEDRA_ASSIGN_OR_RETURN(double to, ToNumber(b, "':'"));
    return SeqBuiltin({Value(from), Value(to), Value(from <= to ? 1.0 : -1.0)});
  }
  const auto it = Arithmetic().find(op);
  if (it == Arithmetic().end()) return InvalidArgument("unknown operator '" + op + "'");
  if (IsScalar(a) && IsScalar(b)) {
    const double x = *ToNumber(a, op), y = *ToNumber(b, op);
    const double r = it->second(x, y);
    if (IsLogical(op)) return Value(r != 0);
    return Value(r);
  }
  FEDRA_ASSIGN_OR_RETURN(Matrix x, ToMatrix(a, "'" + op + "'"));
  FEDRA_ASSIGN_OR_RETURN(Matrix y, ToMatrix(b, "'" + op + "'"));
  FEDRA_ASSIGN_OR_RETURN(Matrix r, Broadcast(x, y, op, it->second));
  return Value(std::move(r));
}

Result<Value> LocalUnary(const std::string& op, const Value& a) {
  if (op == "+") return a;
  if (op == "!") {
    if (IsScalar(a)) return Value(*ToNumber(a, "!") == 0);
    return MapValue(a, "!", [](double x) { return x == 0 ? 1.0 : 0.0; });
  }
  return MapValue(a, "unary -", [](double x) { return -x; });
}

Result<std::vector<Value>> LocalEigen(const Value& a) {
  FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(a, "eigen"));
  if (m.rows() != m.cols()) return InvalidArgument("eigen: a " + Shape(m) + " matrix is not square");
  if (!m.isApprox(m.transpose(), 1e-8)) return InvalidArgument("eigen: the matrix is not symmetric");
  Eigen::SelfAdjointEigenSolver<Matrix> solver(m);
  if (solver.info() != Eigen::Success) return FailedPrecondition("eigen: the decomposition did not converge");
  return std::vector<Value>{Value(Matrix(solver.eigenvalues())), Value(Matrix(solver.eigenvectors()))};
}

Result<Value> LocalBuiltin(const std::string& name, const std::vector<Value>& args) {
  using M = Matrix;
  const Value& x = args.empty() ? Value() : args[0];
  if (name == "toString") return Value(FormatValue(x));
  if (name == "as.scalar") {
    FEDRA_ASSIGN_OR_RETURN(double d, ToNumber(x, "as.scalar"));
    return Value(d);
  }
  if (name == "matrix") return MatrixBuiltin(args);
  if (name == "rand") return RandBuiltin(args);
  if (name == "seq") return SeqBuiltin(args);
  if (name == "cbind" || name == "rbind") return Bind(args, name == "cbind");
  if (name == "ifelse") {
    if (IsScalar(x)) {
      FEDRA_ASSIGN_OR_RETURN(double test, ToNumber(x, "ifelse"));
      return test != 0 ? args[1] : args[2];
    }
    FEDRA_ASSIGN_OR_RETURN(M test, ToMatrix(x, "ifelse: test"));
    FEDRA_ASSIGN_OR_RETURN(M yes, ToMatrix(args[1], "ifelse: yes"));
    FEDRA_ASSIGN_OR_RETURN(M no, ToMatrix(args[2], "ifelse: no"));
    FEDRA_ASSIGN_OR_RETURN(M picked_yes,
                           Broadcast(test, yes, "ifelse", [](double t, double v) { return t != 0 ? v : 0; }));
    FEDRA_ASSIGN_OR_RETURN(M picked_no,
                           Broadcast(test, no, "ifelse", [](double t, double v) { return t != 0 ? 0 : v; }));
    return Value(M(picked_yes + picked_no));
  }
  if (name == "min" || name == "max") {
    const bool is_min = name == "min";
    if (!std::holds_alternative<std::monostate>(args[1])) {
      auto f = [is_min](double a, double b) { return is_min ? std::min(a, b) : std::max(a, b); };
      if (IsScalar(x) && IsScalar(args[1])) return Value(f(*ToNumber(x, name), *ToNumber(args[1], name)));
      FEDRA_ASSIGN_OR_RETURN(M a, ToMatrix(x, name));
      FEDRA_ASSIGN_OR_RETURN(M b, ToMatrix(args[1], name));
      FEDRA_ASSIGN_OR_RETURN(M r, Broadcast(a, b, name, f));
      return Value(std::move(r));
    }
    FEDRA_ASSIGN_OR_RETURN(M m, ToMatrix(x, name));
    if (m.size() == 0) return InvalidArgument(name + " of an empty matrix");
    return Value(is_min ? m.minCoeff() : m.maxCoeff());
  }
  if (name == "solve") {
    FEDRA_ASSIGN_OR_RETURN(M a, ToMatrix(x, "solve: a"));
    FEDRA_ASSIGN_OR_RETURN(M b, ToMatrix(args[1], "solve: b"));
    if (a.rows() != a.cols() || b.rows() != a.rows()) {
      return InvalidArgument("solve: needs a square a and b with as many rows, not " + Shape(a) + " and " + Shape(b));
    }
    Eigen::FullPivLU<M> lu(a);
    if (!lu.isInvertible()) return FailedPrecondition("solve: the " + Shape(a) + " matrix is singular");
    return Value(M(lu.solve(b)));
  }
  static const std::map<std::string, std::function<double(double)>> kMaps = {
      {"abs", [](double v) { return std::abs(v); }},
      {"exp", [](double v) { return std::exp(v); }},
      {"log", [](double v) { return std::log(v); }},
      {"sqrt", [](double v) { return std::sqrt(v); }},
      {"sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"round", [](double v) { return std::round(v); }},
      {"floor", [](double v) { return std::floor(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
  };
  if (auto it = kMaps.find(name); it != kMaps.end()) return MapValue(x, name, it->second);
  FEDRA_ASSIGN_OR_RETURN(M m, ToMatrix(x, name));
  const double n = static_cast<double>(m.rows());
  if (name == "nrow") return Value(n);
  if (name == "ncol") return Value(static_cast<double>(m.cols()));
  if (name == "length") return Value(static_cast<double>(m.size()));
  if (name == "as.matrix") return Value(std::move(m));
  if (name == "t") return Value(M(m.transpose()));
  if (name == "sum") return Value(m.sum());
  if (name == "mean") return Value(m.mean());
  if (name == "colSums") return Value(M(m.colwise().sum()));
  if (name == "colMeans") return Value(M(m.colwise().mean()));
  if (name == "colVars") {
    const Eigen::RowVectorXd mean = m.colwise().mean();
    return Value(M((m.rowwise() - mean).array().square().colwise().sum() / (n - 1)));
  }
  if (name == "colMins") return Value(M(m.colwise().minCoeff()));
  if (name == "colMaxs") return Value(M(m.colwise().maxCoeff()));
  if (name == "rowSums") return Value(M(m.rowwise().sum()));
  if (name == "rowMeans") return Value(M(m.rowwise().mean()));
  if (name == "rowMins") return Value(M(m.rowwise().minCoeff()));
  if (name == "rowMaxs") return Value(M(m.rowwise().maxCoeff()));
  if (name == "diag") {
    if (m.cols() == 1) {
      FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(m.rows()) * static_cast<double>(m.rows()), "diag"));
      return Value(M(m.col(0).asDiagonal()));
    }
    if (m.rows() != m.cols()) return InvalidArgument("diag: a " + Shape(m) + " matrix is neither a column nor square");
    return Value(M(m.diagonal()));
  }
  return InvalidArgument("unknown function '" + name + "'");
}

std::string FormatValue(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return Number(*d);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "TRUE" : "FALSE";
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* m = std::get_if<Matrix>(&v)) {
    if (m->size() > 1'000'000) return "(a " + Shape(*m) + " matrix: too large to show; write it instead)";
    std::string out;
    for (Eigen::Index i = 0; i < m->rows(); ++i) {
      for (Eigen::Index j = 0; j < m->cols(); ++j) out += (j == 0 ? "" : " ") + Number((*m)(i, j));
      if (i + 1 < m->rows()) out += "\n";
    }
    return out;
  }
  if (const auto* n = std::get_if<NodePtr>(&v)) return (*n)->federated() ? "(a federated matrix)" : "(pending)";
  return "";
}

Result<std::string> FormatForWrite(const Value& v, const std::string& format) {
  if (!std::holds_alternative<Matrix>(v)) return FormatValue(v) + "\n";
  const Matrix& m = std::get<Matrix>(v);
  std::string out;
  if (format == "text") {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      for (Eigen::Index j = 0; j < m.cols(); ++j) {
        if (m(i, j) != 0) out += std::to_string(i + 1) + " " + std::to_string(j + 1) + " " + Number(m(i, j)) + "\n";
      }
    }
    return out;
  }
  if (format == "csv") {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      for (Eigen::Index j = 0; j < m.cols(); ++j) out += (j == 0 ? "" : ",") + Number(m(i, j));
      out += "\n";
    }
    return out;
  }
  if (format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (Eigen::Index j = 0; j < m.cols(); ++j) row.push_back(m(i, j));
      rows.push_back(std::move(row));
    }
    return rows.dump() + "\n";
  }
  return InvalidArgument("write: format is \"text\", \"csv\" or \"json\", not \"" + format + "\"");
}

}  // namespace fedra::script

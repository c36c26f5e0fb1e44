#include "master/script/interpreter.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "common/logging.h"
#include "master/script/builtins.h"
#include "master/script/federated_ops.h"
#include "master/script/graph.h"
#include "master/script/liveness.h"
#include "master/script/parser.h"

namespace fedra::script {
namespace {

// "a,b,c" as names; `where` names the argument in errors.
Result<std::vector<std::string>> SplitNames(const std::string& list, const std::string& where) {
  std::vector<std::string> names;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, comma - start);
    if (name.empty()) return InvalidArgument(where + ": an empty column name in \"" + list + "\"");
    names.push_back(std::move(name));
    start = comma + 1;
  }
  return names;
}

// Calls nested deeper than this are an error, not a crash.
constexpr int kMaxCallDepth = 100;

Value ParseArgument(const std::string& text) {
  if (text == "TRUE") return Value(true);
  if (text == "FALSE") return Value(false);
  double d = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec == std::errc() && ptr == text.data() + text.size() && !text.empty()) return Value(d);
  return Value(text);
}

using Frame = std::map<std::string, Value>;

class Interpreter {
 public:
  Interpreter(Federation& fed, std::string_view source, const ScriptOptions& options)
      : graph_(fed, source), options_(options) {}

  Status Run(const Program& program) {
    live_after_ = AnalyseLiveness(program);
    Frame globals;
    Status s = ExecBlock(program.statements, globals);
    // Drop every value before clearing, so that nothing the script made stays at the sites.
    globals.clear();
    functions_.clear();
    Status cleared = graph_.Finish();
    if (!s.ok()) return s;
    return cleared.WithContext("clearing the script's site variables");
  }

  const Graph& graph() const { return graph_; }

 private:
  Status Fail(SourcePos pos, const Status& s) const { return graph_.AtLine(pos, s); }

  // Runs the statements, dropping each variable after the last statement that reads it.
  Status ExecBlock(const Block& block, Frame& frame) {
    for (const StmtPtr& s : block) {
      FEDRA_RETURN_IF_ERROR(Exec(*s, frame));
      const auto live = live_after_.find(s.get());
      if (live == live_after_.end()) continue;
      std::erase_if(frame, [&](const auto& entry) { return !live->second.contains(entry.first); });
    }
    return Status::Ok();
  }

  Status Check() { return options_.io.check ? options_.io.check() : Status::Ok(); }

  Status Exec(const Stmt& s, Frame& frame) {
    Status status = ExecInner(s, frame);
    if (status.ok() || HasLine(status)) return status;
    return Fail(s.pos, status);
  }

  Status ExecInner(const Stmt& s, Frame& frame) {
    switch (s.kind) {
      case Stmt::Kind::kFunction:
        if (FindBuiltin(s.function->name)) {
          return InvalidArgument("'" + s.function->name + "' is a builtin function; choose another name");
        }
        functions_[s.function->name] = s.function;
        return Status::Ok();
      case Stmt::Kind::kExpr: return Eval(*s.value, frame).status();
      case Stmt::Kind::kAssign: {
        if (s.targets.size() == 1) {
          FEDRA_ASSIGN_OR_RETURN(frame[s.targets[0]], Eval(*s.value, frame));
          return Status::Ok();
        }
        FEDRA_ASSIGN_OR_RETURN(std::vector<Value> values, CallMany(*s.value, frame));
        if (values.size() != s.targets.size()) {
          return InvalidArgument("'" + s.value->text + "' returns " + std::to_string(values.size()) + " values, not " +
                                 std::to_string(s.targets.size()));
        }
        for (size_t i = 0; i < values.size(); ++i) frame[s.targets[i]] = std::move(values[i]);
        return Status::Ok();
      }
      case Stmt::Kind::kIndexAssign: return AssignIndexed(s, frame);
      case Stmt::Kind::kIf: {
        FEDRA_ASSIGN_OR_RETURN(bool yes, Truth(*s.condition, frame));
        return ExecBlock(yes ? s.body : s.orelse, frame);
      }
      case Stmt::Kind::kWhile:
        while (true) {
          FEDRA_RETURN_IF_ERROR(Check());
          FEDRA_ASSIGN_OR_RETURN(bool yes, Truth(*s.condition, frame));
          if (!yes) return Status::Ok();
          FEDRA_RETURN_IF_ERROR(ExecBlock(s.body, frame));
        }
      case Stmt::Kind::kFor: {
        FEDRA_ASSIGN_OR_RETURN(Value range, Forced(*s.value, frame));
        FEDRA_ASSIGN_OR_RETURN(Matrix values, ToMatrix(range, "a for loop's range"));
        for (Eigen::Index i = 0; i < values.size(); ++i) {
          FEDRA_RETURN_IF_ERROR(Check());
          frame[s.loop_var] = Value(values.data()[i]);
          FEDRA_RETURN_IF_ERROR(ExecBlock(s.body, frame));
        }
        return Status::Ok();
      }
    }
    return Internal("unknown statement");
  }

  Result<bool> Truth(const Expr& e, Frame& frame) {
    FEDRA_ASSIGN_OR_RETURN(Value v, Forced(e, frame));
    if (IsFederated(v)) return InvalidArgument("a condition cannot be a federated matrix");
    FEDRA_ASSIGN_OR_RETURN(double d, ToNumber(v, "a condition"));
    if (std::isnan(d)) return InvalidArgument("a condition is NaN");
    return d != 0;
  }

  // The value of `e`, computed (running the batches it needs).
  Result<Value> Forced(const Expr& e, Frame& frame) {
    FEDRA_ASSIGN_OR_RETURN(Value v, Eval(e, frame));
    return graph_.Force(v);
  }

  Result<Value> Eval(const Expr& e, Frame& frame) {
    Result<Value> v = EvalInner(e, frame);
    if (!v.ok() && !HasLine(v.status())) return Fail(e.pos, v.status());
    return v;
  }

  Result<Value> EvalInner(const Expr& e, Frame& frame) {
    switch (e.kind) {
      case Expr::Kind::kNumber: return Value(e.number);
      case Expr::Kind::kString: return Value(e.text);
      case Expr::Kind::kBool: return Value(e.number != 0);
      case Expr::Kind::kName: {
        const auto it = frame.find(e.text);
        if (it == frame.end()) return NotFound("'" + e.text + "' is not defined");
        return it->second;
      }
      case Expr::Kind::kArgument: {
        const auto it = options_.args.find(e.text);
        if (it == options_.args.end()) {
          return InvalidArgument("$" + e.text + " is not given; pass it with --arg " + e.text + "=VALUE (or in the " +
                                 "job's \"args\")");
        }
        return ParseArgument(it->second);
      }
      case Expr::Kind::kUnary: {
        FEDRA_ASSIGN_OR_RETURN(Value a, Eval(*e.operands[0], frame));
        if (IsFederated(a)) return FederatedUnary(graph_, e.text, a, e.pos);
        const std::string op = e.text;
        return graph_.Defer([op](std::vector<Value> in) { return LocalUnary(op, in[0]); }, {std::move(a)}, e.pos);
      }
      case Expr::Kind::kBinary: return Binary(e, frame);
      case Expr::Kind::kCall: {
        FEDRA_ASSIGN_OR_RETURN(std::vector<Value> values, CallMany(e, frame));
        if (values.size() != 1) {
          return InvalidArgument("'" + e.text + "' returns " + std::to_string(values.size()) + " values; assign them " +
                                 "with [a, b] = " + e.text + "(...)");
        }
        return std::move(values[0]);
      }
      case Expr::Kind::kIndex: return Index(e, frame);
    }
    return Internal("unknown expression");
  }

  Result<Value> Binary(const Expr& e, Frame& frame) {
    const std::string& op = e.text;
    if (op == "&&" || op == "||") {  // short-circuit, on scalars
      FEDRA_ASSIGN_OR_RETURN(bool left, Truth(*e.operands[0], frame));
      if (left == (op == "||")) return Value(left);
      FEDRA_ASSIGN_OR_RETURN(bool right, Truth(*e.operands[1], frame));
      return Value(right);
    }
    FEDRA_ASSIGN_OR_RETURN(Value a, Eval(*e.operands[0], frame));
    FEDRA_ASSIGN_OR_RETURN(Value b, Eval(*e.operands[1], frame));
    if (op == "%*%" && IsFederatedProduct(a, b)) {
      // A pending t(X) %*% X stays pending, to fuse with what it multiplies.
      if (!IsPendingGram(a)) {
        FEDRA_ASSIGN_OR_RETURN(a, graph_.Force(a));
      }
      FEDRA_ASSIGN_OR_RETURN(b, graph_.Force(b));
      return FederatedMatMul(graph_, a, b, e.pos);
    }
    if (IsFederated(a) || IsFederated(b)) {
      FEDRA_ASSIGN_OR_RETURN(a, graph_.Force(a));
      FEDRA_ASSIGN_OR_RETURN(b, graph_.Force(b));
      return FederatedBinary(graph_, op, a, b, e.pos);
    }
    return graph_.Defer([op](std::vector<Value> in) { return LocalBinary(op, in[0], in[1]); },
                        {std::move(a), std::move(b)}, e.pos);
  }

  // A 1-based index: a number, or a vector of them; null: everything (`all`).
  Result<std::vector<Eigen::Index>> Indices(const Value* v, Eigen::Index all, const std::string& what) {
    std::vector<Eigen::Index> out;
    if (!v) {
      for (Eigen::Index i = 0; i < all; ++i) out.push_back(i);
      return out;
    }
    FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(*v, what));
    for (Eigen::Index k = 0; k < m.size(); ++k) {
      const double i = m.data()[k];
      if (i != std::floor(i) || i < 1 || i > static_cast<double>(all)) {
        return InvalidArgument(what + " " + FormatValue(Value(i)) + " is out of range 1.." + std::to_string(all));
      }
      out.push_back(static_cast<Eigen::Index>(i) - 1);
    }
    return out;
  }

  struct IndexValues {
    Value target;
    std::optional<Value> rows, cols;
  };

  Result<IndexValues> EvalIndex(const Expr& e, Frame& frame) {
    IndexValues out;
    FEDRA_ASSIGN_OR_RETURN(out.target, Eval(*e.operands[0], frame));
    if (e.rows) {
      FEDRA_ASSIGN_OR_RETURN(out.rows, Forced(*e.rows, frame));
    }
    if (e.cols) {
      FEDRA_ASSIGN_OR_RETURN(out.cols, Forced(*e.cols, frame));
    }
    return out;
  }

  Result<Value> Index(const Expr& e, Frame& frame) {
    FEDRA_ASSIGN_OR_RETURN(IndexValues in, EvalIndex(e, frame));
    const Value* rows = in.rows ? &*in.rows : nullptr;
    const Value* cols = in.cols ? &*in.cols : nullptr;
    if (IsFederated(in.target)) {
      if (e.single_index) return InvalidArgument("a federated matrix takes X[, j], not X[i]");
      return FederatedIndex(graph_, in.target, rows, cols, e.pos);
    }
    FEDRA_ASSIGN_OR_RETURN(Value target, graph_.Force(in.target));
    FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(target, "indexing"));
    if (e.single_index) {  // column-major, as R
      FEDRA_ASSIGN_OR_RETURN(auto picked, Indices(rows, m.size(), "index"));
      Matrix out(static_cast<Eigen::Index>(picked.size()), 1);
      for (size_t k = 0; k < picked.size(); ++k) out(static_cast<Eigen::Index>(k), 0) = m.data()[picked[k]];
      return Value(std::move(out));
    }
    FEDRA_ASSIGN_OR_RETURN(auto r, Indices(rows, m.rows(), "row"));
    FEDRA_ASSIGN_OR_RETURN(auto c, Indices(cols, m.cols(), "column"));
    FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(r.size()) * static_cast<double>(c.size()), "indexing"));
    Matrix out(static_cast<Eigen::Index>(r.size()), static_cast<Eigen::Index>(c.size()));
    for (size_t i = 0; i < r.size(); ++i) {
      for (size_t j = 0; j < c.size(); ++j)
        out(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = m(r[i], c[j]);
    }
    return Value(std::move(out));
  }

  Status AssignIndexed(const Stmt& s, Frame& frame) {
    const Expr& e = *s.index;
    FEDRA_ASSIGN_OR_RETURN(IndexValues in, EvalIndex(e, frame));
    if (IsFederated(in.target))
      return InvalidArgument("cells of a federated matrix cannot be assigned: they stay at the sites");
    FEDRA_ASSIGN_OR_RETURN(Value target, graph_.Force(in.target));
    FEDRA_ASSIGN_OR_RETURN(Value v, Forced(*s.value, frame));
    FEDRA_ASSIGN_OR_RETURN(Matrix m, ToMatrix(target, "an indexed assignment"));
    FEDRA_ASSIGN_OR_RETURN(Matrix value, ToMatrix(v, "an indexed assignment"));
    const Value* rows = in.rows ? &*in.rows : nullptr;
    const Value* cols = in.cols ? &*in.cols : nullptr;
    std::vector<std::pair<Eigen::Index, Eigen::Index>> cells;
    if (e.single_index) {
      FEDRA_ASSIGN_OR_RETURN(auto picked, Indices(rows, m.size(), "index"));
      for (Eigen::Index k : picked) cells.emplace_back(k % m.rows(), k / m.rows());
    } else {
      FEDRA_ASSIGN_OR_RETURN(auto r, Indices(rows, m.rows(), "row"));
      FEDRA_ASSIGN_OR_RETURN(auto c, Indices(cols, m.cols(), "column"));
      FEDRA_RETURN_IF_ERROR(CheckCells(static_cast<double>(r.size()) * static_cast<double>(c.size()), "indexing"));
      if (value.size() != 1 && (value.rows() != static_cast<Eigen::Index>(r.size()) ||
                                value.cols() != static_cast<Eigen::Index>(c.size()))) {
        return InvalidArgument("a " + std::to_string(value.rows()) + "x" + std::to_string(value.cols()) +
                               " value does not fit " + std::to_string(r.size()) + "x" + std::to_string(c.size()) +
                               " cells");
      }
      for (Eigen::Index j : c) {
        for (Eigen::Index i : r) cells.emplace_back(i, j);
      }
    }
    if (value.size() != 1 && value.size() != static_cast<Eigen::Index>(cells.size())) {
      return InvalidArgument(std::to_string(value.size()) + " values for " + std::to_string(cells.size()) + " cells");
    }
    for (size_t k = 0; k < cells.size(); ++k) {
      m(cells[k].first, cells[k].second) = value.size() == 1 ? value(0, 0) : value.data()[k];
    }
    frame[e.operands[0]->text] = Value(std::move(m));
    return Status::Ok();
  }

  // The call's arguments bound to `names` (positional first, then by name), with `defaults`.
  Result<std::vector<const Expr*>> BindArgs(const Expr& call, const std::vector<std::string>& names) {
    std::vector<const Expr*> bound(names.size(), nullptr);
    size_t next = 0;
    for (const CallArg& a : call.args) {
      size_t k = next;
      if (!a.name.empty()) {
        k = std::find(names.begin(), names.end(), a.name) - names.begin();
        if (k == names.size()) return InvalidArgument("'" + call.text + "' has no parameter '" + a.name + "'");
      } else {
        while (next < names.size() && bound[next]) ++next;
        k = next++;
        if (k >= names.size()) {
          return InvalidArgument("'" + call.text + "' takes at most " + std::to_string(names.size()) + " argument" +
                                 (names.size() == 1 ? "" : "s") + ", given " + std::to_string(call.args.size()));
        }
      }
      if (bound[k]) return InvalidArgument("'" + call.text + "': '" + names[k] + "' is given twice");
      bound[k] = a.value.get();
    }
    return bound;
  }

  Result<std::vector<Value>> CallMany(const Expr& call, Frame& frame) {
    if (const auto it = functions_.find(call.text); it != functions_.end())
      return CallFunction(*it->second, call, frame);
    if (call.text == "ifdef") return IfDefined(call, frame);
    const Builtin* b = FindBuiltin(call.text);
    if (!b) {
      return NotFound("unknown function '" + call.text + "' (builtins: " + BuiltinNames() + "; or define it with " +
                      call.text + " = function(...) ...)");
    }
    std::vector<Value> args;
    if (b->variadic) {
      if (call.args.empty()) return InvalidArgument("'" + call.text + "' needs at least one argument");
      for (const CallArg& a : call.args) {
        if (!a.name.empty()) return InvalidArgument("'" + call.text + "' takes no named arguments");
        FEDRA_ASSIGN_OR_RETURN(Value v, Eval(*a.value, frame));
        args.push_back(std::move(v));
      }
    } else {
      std::vector<std::string> names;
      for (const BuiltinParam& p : b->params) names.push_back(p.name);
      FEDRA_ASSIGN_OR_RETURN(std::vector<const Expr*> bound, BindArgs(call, names));
      for (size_t k = 0; k < bound.size(); ++k) {
        if (bound[k]) {
          FEDRA_ASSIGN_OR_RETURN(Value v, Eval(*bound[k], frame));
          args.push_back(std::move(v));
        } else if (b->params[k].default_value) {
          args.push_back(*b->params[k].default_value);
        } else {
          return InvalidArgument("'" + call.text + "' needs its argument '" + names[k] + "'");
        }
      }
    }
    return CallBuiltin(*b, call.pos, std::move(args));
  }

  // ifdef($name, default): the argument if given, else the default (as DML's).
  Result<std::vector<Value>> IfDefined(const Expr& call, Frame& frame) {
    if (call.args.size() != 2 || !call.args[0].name.empty() || !call.args[1].name.empty() ||
        call.args[0].value->kind != Expr::Kind::kArgument) {
      return InvalidArgument("ifdef takes an argument and its default: ifdef($name, default)");
    }
    const bool given = options_.args.contains(call.args[0].value->text);
    FEDRA_ASSIGN_OR_RETURN(Value v, Eval(*call.args[given ? 0 : 1].value, frame));
    return std::vector<Value>{std::move(v)};
  }

  Result<std::vector<Value>> CallBuiltin(const Builtin& b, SourcePos pos, std::vector<Value> args) {
    const std::string& name = b.name;
    if (name == "read") {
      FEDRA_ASSIGN_OR_RETURN(Value matrix, Read(args[0], pos));
      return std::vector<Value>{std::move(matrix)};
    }
    if (name == "print" || name == "write" || name == "stop" || name == "log_metric" || name == "save_model" ||
        name == "eigen") {
      for (Value& v : args) {
        FEDRA_ASSIGN_OR_RETURN(v, graph_.Force(v));
      }
      return Effect(name, args);
    }
    bool federated = false;
    for (const Value& v : args) federated = federated || IsFederated(v);
    if (federated) {
      while (!args.empty() && std::holds_alternative<std::monostate>(args.back())) args.pop_back();
      for (Value& v : args) {
        FEDRA_ASSIGN_OR_RETURN(v, graph_.Force(v));
      }
      bool handled = false;
      FEDRA_ASSIGN_OR_RETURN(Value out, FederatedBuiltin(graph_, name, args, pos, &handled));
      if (handled) return std::vector<Value>{std::move(out)};
      if (name == "ifelse") {  // (test != 0) * (yes - no) + no, at the sites
        FEDRA_ASSIGN_OR_RETURN(Value diff, Sites("-", args[1], args[2], pos));
        FEDRA_ASSIGN_OR_RETURN(Value mask, Sites("!=", args[0], Value(0.0), pos));
        FEDRA_ASSIGN_OR_RETURN(Value scaled, Sites("*", mask, diff, pos));
        FEDRA_ASSIGN_OR_RETURN(Value sum, Sites("+", scaled, args[2], pos));
        return std::vector<Value>{std::move(sum)};
      }
      return InvalidArgument("'" + name + "' does not take a federated matrix: its rows stay at the sites");
    }
    FEDRA_ASSIGN_OR_RETURN(Value out, graph_.Defer([name](std::vector<Value> in) { return LocalBuiltin(name, in); },
                                                   std::move(args), pos));
    return std::vector<Value>{std::move(out)};
  }

  // a op b where one may be federated, the other computed.
  Result<Value> Sites(const std::string& op, const Value& a, const Value& b, SourcePos pos) {
    if (IsFederated(a) || IsFederated(b)) return FederatedBinary(graph_, op, a, b, pos);
    return LocalBinary(op, a, b);
  }

  Result<Value> Read(const Value& arg, SourcePos pos) {
    FEDRA_ASSIGN_OR_RETURN(Value v, graph_.Force(arg));
    const auto* spec = std::get_if<std::string>(&v);
    if (!spec || spec->empty()) return InvalidArgument("read takes \"DATASET\" or \"DATASET:COLUMN,COLUMN,...\"");
    const std::string lineage = "read(" + *spec + ")";
    if (NodePtr known = graph_.FindLive(lineage)) return Value(known);
    if (const auto input = options_.inputs.find(*spec); input != options_.inputs.end()) {
      FEDRA_ASSIGN_OR_RETURN(NodePtr leaf, graph_.Leaf(input->second, lineage, pos));
      return Value(std::move(leaf));
    }
    const size_t colon = spec->find(':');
    const std::string dataset = spec->substr(0, colon);
    std::vector<std::string> columns;
    if (colon != std::string::npos) {
      FEDRA_ASSIGN_OR_RETURN(columns, SplitNames(spec->substr(colon + 1), "read \"" + *spec + "\""));
    }
    if (!IsValidDatasetName(dataset)) return InvalidArgument("read: '" + dataset + "' is not a dataset name");
    FEDRA_ASSIGN_OR_RETURN(FederatedMatrix m, FederatedMatrix::Read(graph_.federation(), dataset, columns));
    FEDRA_ASSIGN_OR_RETURN(NodePtr leaf, graph_.Leaf(std::move(m), lineage, pos));
    return Value(std::move(leaf));
  }

  Result<std::vector<Value>> Effect(const std::string& name, const std::vector<Value>& args) {
    const ScriptIo& io = options_.io;
    if (name == "eigen") return LocalEigen(args[0]);
    if (name == "print") {
      const NodePtr* n = std::get_if<NodePtr>(&args[0]);
      const std::string text = n ? DescribeFederated(**n) : FormatValue(args[0]);
      if (io.print) FEDRA_RETURN_IF_ERROR(io.print(text));
      return std::vector<Value>{Value()};
    }
    if (name == "stop") return FailedPrecondition("stop: " + FormatValue(args[0]));
    if (name == "write") {
      if (IsFederated(args[0]))
        return InvalidArgument("write: a federated matrix cannot be written; its rows stay at the sites");
      const auto* target = std::get_if<std::string>(&args[1]);
      const auto* format = std::get_if<std::string>(&args[2]);
      if (!target || target->empty()) return InvalidArgument("write: the target must be a non-empty string");
      if (!format) return InvalidArgument("write: format must be a string");
      FEDRA_ASSIGN_OR_RETURN(std::string text, FormatForWrite(args[0], *format));
      if (!io.write) return FailedPrecondition("write: this run has nowhere to write");
      FEDRA_RETURN_IF_ERROR(io.write(*target, text));
      return std::vector<Value>{Value()};
    }
    if (name == "save_model") return SaveModel(args);
    // log_metric(name, value, step)
    const auto* metric = std::get_if<std::string>(&args[0]);
    if (!metric || metric->empty()) return InvalidArgument("log_metric: the name must be a non-empty string");
    FEDRA_ASSIGN_OR_RETURN(double value, ToNumber(args[1], "log_metric: value"));
    int64_t step = steps_[*metric];
    if (!std::holds_alternative<std::monostate>(args[2])) {
      FEDRA_ASSIGN_OR_RETURN(double s, ToNumber(args[2], "log_metric: step"));
      if (!(s >= 0 && s < 2147483648.0) || s != std::floor(s)) {
        return InvalidArgument("log_metric: the step must be a whole number from 0 to 2^31 - 1, not " +
                               FormatValue(args[2]));
      }
      step = static_cast<int64_t>(s);
    }
    steps_[*metric] = step + 1;
    if (io.log_metric) FEDRA_RETURN_IF_ERROR(io.log_metric(*metric, value, step));
    return std::vector<Value>{Value()};
  }

  // save_model(x, algorithm, features, label="", intercept=FALSE, classes="", name="model"):
  // features and label as read takes them ("DATASET:COLUMN,..."), or the columns alone.
  Result<std::vector<Value>> SaveModel(const std::vector<Value>& args) {
    ModelDeclaration model;
    if (const auto* m = std::get_if<Matrix>(&args[0])) {
      model.values = *m;
    } else if (const auto* d = std::get_if<double>(&args[0])) {
      model.values = Matrix::Constant(1, 1, *d);
    } else {
      return InvalidArgument("save_model: x must be a local matrix of the model's parameters");
    }
    const auto text = [&](size_t k, const char* what) -> Result<std::string> {
      const auto* t = std::get_if<std::string>(&args[k]);
      if (!t) return InvalidArgument(std::string("save_model: ") + what + " must be a string");
      return *t;
    };
    FEDRA_ASSIGN_OR_RETURN(model.algorithm, text(1, "algorithm"));
    FEDRA_ASSIGN_OR_RETURN(const std::string features, text(2, "features"));
    FEDRA_ASSIGN_OR_RETURN(const std::string label, text(3, "label"));
    FEDRA_ASSIGN_OR_RETURN(const std::string classes, text(5, "classes"));
    FEDRA_ASSIGN_OR_RETURN(model.name, text(6, "name"));
    const auto* intercept = std::get_if<bool>(&args[4]);
    if (!intercept) return InvalidArgument("save_model: intercept must be TRUE or FALSE");
    model.intercept = *intercept;
    // The dataset named with the features, or with the label.
    auto columns = [&model](const std::string& spec, const char* what) -> Result<std::vector<std::string>> {
      const size_t colon = spec.find(':');
      if (colon != std::string::npos) {
        const std::string dataset = spec.substr(0, colon);
        if (!model.dataset.empty() && model.dataset != dataset) {
          return InvalidArgument("save_model: the features are of '" + model.dataset + "', the " + what + " of '" +
                                 dataset + "'");
        }
        model.dataset = dataset;
      }
      return SplitNames(colon == std::string::npos ? spec : spec.substr(colon + 1), std::string("save_model: ") + what);
    };
    FEDRA_ASSIGN_OR_RETURN(model.features, columns(features, "features"));
    if (!label.empty()) {
      FEDRA_ASSIGN_OR_RETURN(const std::vector<std::string> names, columns(label, "label"));
      if (names.size() != 1) return InvalidArgument("save_model: the label is one column");
      model.label = names[0];
    }
    if (!classes.empty()) {
      FEDRA_ASSIGN_OR_RETURN(model.classes, SplitNames(classes, "save_model: classes"));
    }
    if (options_.io.save_model) FEDRA_RETURN_IF_ERROR(options_.io.save_model(model));
    return std::vector<Value>{Value()};
  }

  Result<std::vector<Value>> CallFunction(const Function& f, const Expr& call, Frame& caller) {
    if (depth_ >= kMaxCallDepth) return ResourceExhausted("calls nested deeper than " + std::to_string(kMaxCallDepth));
    FEDRA_RETURN_IF_ERROR(Check());
    std::vector<std::string> names;
    for (const Param& p : f.params) names.push_back(p.name);
    FEDRA_ASSIGN_OR_RETURN(std::vector<const Expr*> bound, BindArgs(call, names));
    Frame frame;
    for (size_t k = 0; k < bound.size(); ++k) {
      if (bound[k]) {
        FEDRA_ASSIGN_OR_RETURN(frame[names[k]], Eval(*bound[k], caller));
      } else if (f.params[k].default_value) {
        FEDRA_ASSIGN_OR_RETURN(frame[names[k]], Eval(*f.params[k].default_value, frame));
      } else {
        return InvalidArgument("'" + f.name + "' needs its argument '" + names[k] + "'");
      }
    }
    ++depth_;
    Status s = ExecBlock(f.body, frame);
    --depth_;
    FEDRA_RETURN_IF_ERROR(s);
    std::vector<Value> out;
    for (const std::string& r : f.returns) {
      const auto it = frame.find(r);
      if (it == frame.end()) return FailedPrecondition("function '" + f.name + "' did not set its result '" + r + "'");
      out.push_back(std::move(it->second));
    }
    if (out.empty()) out.emplace_back(std::monostate());
    return out;
  }

  Graph graph_;
  const ScriptOptions& options_;
  std::map<std::string, std::shared_ptr<const Function>> functions_;
  std::map<std::string, int64_t> steps_;  // log_metric's next step per name
  LiveAfter live_after_;
  int depth_ = 0;
};

}  // namespace

Status CheckScript(std::string_view source) { return Parse(source).status(); }

Result<ScriptReport> RunScript(Federation& fed, std::string_view source, const ScriptOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  FEDRA_ASSIGN_OR_RETURN(Program program, Parse(source));
  Interpreter interpreter(fed, source, options);
  try {
    FEDRA_RETURN_IF_ERROR(interpreter.Run(program));
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("the script needed more memory at the master than there is");
  }
  ScriptReport report;
  report.batches = interpreter.graph().batches();
  report.instructions = interpreter.graph().instructions();
  report.reused = interpreter.graph().reused();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace fedra::script

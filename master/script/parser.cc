#include "master/script/parser.h"

#include <algorithm>
#include <set>

namespace fedra::script {
namespace {

// Nesting deeper than this is refused rather than risking the parser's stack.
constexpr int kMaxDepth = 200;
// Expression trees deeper than this too (a chain of operators nests without parentheses): walking
// and freeing a tree recurse once per level.
constexpr int kMaxTreeDepth = 1000;

class Parser {
 public:
  Parser(std::string_view source, std::vector<Token> tokens) : source_(source), tokens_(std::move(tokens)) {}

  Result<script::Program> ParseProgram() {
    script::Program program;
    FEDRA_ASSIGN_OR_RETURN(program.statements, Statements(/*braced=*/false));
    return program;
  }

 private:
  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(next_ + ahead, tokens_.size() - 1)]; }
  const Token& Take() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name) const { return Peek().kind == TokenKind::kName && Peek().text == name; }
  bool TakeOp(std::string_view op) {
    if (!IsOp(op)) return false;
    Take();
    return true;
  }
  void SkipNewlines() {
    while (Peek().kind == TokenKind::kNewline) Take();
  }
  Status ErrorHere(const std::string& message) const { return SyntaxError(source_, Peek().pos, message); }
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEnd: return "the end of the script";
      case TokenKind::kNewline: return "the end of the line";
      case TokenKind::kString: return "a string";
      case TokenKind::kArgument: return "'$" + t.text + "'";
      default: return "'" + t.text + "'";
    }
  }
  Status Expect(std::string_view op, const std::string& after) {
    if (TakeOp(op)) return Status::Ok();
    return ErrorHere("expected '" + std::string(op) + "' " + after + ", found " + Describe(Peek()));
  }
  Result<std::string> ExpectName(const std::string& what) {
    if (Peek().kind != TokenKind::kName) return ErrorHere("expected " + what + ", found " + Describe(Peek()));
    return Take().text;
  }

  Result<Block> Statements(bool braced) {
    Block block;
    while (true) {
      while (Peek().kind == TokenKind::kNewline || IsOp(";")) Take();
      if (braced && IsOp("}")) {
        Take();
        return block;
      }
      if (Peek().kind == TokenKind::kEnd) {
        if (braced) return ErrorHere("a '{' is not closed by a '}'");
        return block;
      }
      FEDRA_ASSIGN_OR_RETURN(StmtPtr s, Statement());
      block.push_back(std::move(s));
      // A statement ends at a newline, a ';', a '}' or the end.
      if (!(Peek().kind == TokenKind::kNewline || IsOp(";") || IsOp("}") || Peek().kind == TokenKind::kEnd)) {
        return ErrorHere("unexpected " + Describe(Peek()) + " after a complete statement; a ';' or a new line " +
                         "separates statements");
      }
    }
  }

  // A braced block or a single statement.
  Result<Block> Body() {
    SkipNewlines();
    if (TakeOp("{")) return Nested([&] { return Statements(/*braced=*/true); });
    FEDRA_ASSIGN_OR_RETURN(StmtPtr s, Nested([&] { return Statement(); }));
    Block block;
    block.push_back(std::move(s));
    return block;
  }

  // Sets `e`'s depth from its children's, refusing trees too deep to walk.
  Result<ExprPtr> Deep(ExprPtr e) const {
    int below = 0;
    for (const ExprPtr& o : e->operands) below = std::max(below, o->depth);
    for (const CallArg& a : e->args) below = std::max(below, a.value->depth);
    for (const Expr* bound : {e->rows.get(), e->cols.get()}) below = bound ? std::max(below, bound->depth) : below;
    e->depth = below + 1;
    if (e->depth > kMaxTreeDepth) {
      return SyntaxError(source_, e->pos,
                         "an expression nested more than " + std::to_string(kMaxTreeDepth) +
                             " operations deep; split it into several statements");
    }
    return e;
  }

  template <class F>
  auto Nested(F&& f) -> decltype(f()) {
    if (++depth_ > kMaxDepth) return ErrorHere("nested more than " + std::to_string(kMaxDepth) + " levels deep");
    auto result = f();
    --depth_;
    return result;
  }

  Result<ExprPtr> Condition(const std::string& what) {
    FEDRA_RETURN_IF_ERROR(Expect("(", "after '" + what + "'"));
    FEDRA_ASSIGN_OR_RETURN(ExprPtr e, Expression());
    FEDRA_RETURN_IF_ERROR(Expect(")", "to close the " + what + " condition"));
    return e;
  }

  Result<StmtPtr> Statement() {
    auto s = std::make_unique<Stmt>();
    s->pos = Peek().pos;
    if (IsName("if")) {
      Take();
      s->kind = Stmt::Kind::kIf;
      FEDRA_ASSIGN_OR_RETURN(s->condition, Condition("if"));
      FEDRA_ASSIGN_OR_RETURN(s->body, Body());
      // `else` may follow on a later line (as in DML).
      size_t ahead = 0;
      while (Peek(ahead).kind == TokenKind::kNewline) ++ahead;
      if (Peek(ahead).kind == TokenKind::kName && Peek(ahead).text == "else") {
        SkipNewlines();
        Take();
        FEDRA_ASSIGN_OR_RETURN(s->orelse, Body());
      }
      return s;
    }
    if (IsName("while")) {
      Take();
      s->kind = Stmt::Kind::kWhile;
      FEDRA_ASSIGN_OR_RETURN(s->condition, Condition("while"));
      FEDRA_ASSIGN_OR_RETURN(s->body, Body());
      return s;
    }
    if (IsName("for")) {
      Take();
      s->kind = Stmt::Kind::kFor;
      FEDRA_RETURN_IF_ERROR(Expect("(", "after 'for'"));
      FEDRA_ASSIGN_OR_RETURN(s->loop_var, ExpectName("the loop variable"));
      if (!IsName("in")) return ErrorHere("expected 'in' after the loop variable, found " + Describe(Peek()));
      Take();
      FEDRA_ASSIGN_OR_RETURN(s->value, Expression());
      FEDRA_RETURN_IF_ERROR(Expect(")", "to close the for loop's range"));
      FEDRA_ASSIGN_OR_RETURN(s->body, Body());
      return s;
    }
    if (IsOp("[")) return MultiAssign(std::move(s));
    if (Peek().kind == TokenKind::kName && (IsOp("=", 1) || IsOp("<-", 1)) && Peek(2).kind == TokenKind::kName &&
        Peek(2).text == "function") {
      return FunctionDefinition(std::move(s));
    }
    FEDRA_ASSIGN_OR_RETURN(ExprPtr e, Expression());
    if (IsOp("=") || IsOp("<-")) {
      const Token& op = Take();
      SkipNewlines();
      if (e->kind == Expr::Kind::kName) {
        s->kind = Stmt::Kind::kAssign;
        s->targets.push_back(e->text);
      } else if (e->kind == Expr::Kind::kIndex && e->operands[0]->kind == Expr::Kind::kName) {
        s->kind = Stmt::Kind::kIndexAssign;
        s->index = std::move(e);
      } else {
        return SyntaxError(source_, op.pos, "only a name or an indexed name (X[i, j]) can be assigned to");
      }
      FEDRA_ASSIGN_OR_RETURN(s->value, Expression());
      return s;
    }
    s->kind = Stmt::Kind::kExpr;
    s->value = std::move(e);
    return s;
  }

  Result<StmtPtr> MultiAssign(StmtPtr s) {
    Take();  // [
    s->kind = Stmt::Kind::kAssign;
    do {
      FEDRA_ASSIGN_OR_RETURN(std::string name, ExpectName("a name to assign to"));
      s->targets.push_back(std::move(name));
    } while (TakeOp(","));
    FEDRA_RETURN_IF_ERROR(Expect("]", "to close the names assigned to"));
    if (!TakeOp("=") && !TakeOp("<-")) return ErrorHere("expected '=' after [" + s->targets[0] + ", ...]");
    FEDRA_ASSIGN_OR_RETURN(s->value, Expression());
    if (s->value->kind != Expr::Kind::kCall) {
      return SyntaxError(source_, s->value->pos, "[a, b, ...] = takes the results of a function call");
    }
    return s;
  }

  // [Type[ValueType]] name [= default], the type ignored.
  Result<Param> Parameter() {
    Param p;
    if (Peek().kind == TokenKind::kName && (IsOp("[", 1) || Peek(1).kind == TokenKind::kName)) {
      Take();
      if (TakeOp("[")) {
        FEDRA_RETURN_IF_ERROR(ExpectName("a value type").status());
        FEDRA_RETURN_IF_ERROR(Expect("]", "after the value type"));
      }
    }
    FEDRA_ASSIGN_OR_RETURN(p.name, ExpectName("a parameter name"));
    if (TakeOp("=")) {
      FEDRA_ASSIGN_OR_RETURN(p.default_value, Expression());
    }
    return p;
  }

  Result<std::vector<Param>> Parameters(const std::string& what) {
    FEDRA_RETURN_IF_ERROR(Expect("(", "to open the " + what));
    std::vector<Param> params;
    std::set<std::string> seen;
    if (TakeOp(")")) return params;
    do {
      const SourcePos pos = Peek().pos;
      FEDRA_ASSIGN_OR_RETURN(Param p, Parameter());
      if (!seen.insert(p.name).second) return SyntaxError(source_, pos, "'" + p.name + "' is named twice");
      params.push_back(std::move(p));
    } while (TakeOp(","));
    FEDRA_RETURN_IF_ERROR(Expect(")", "to close the " + what));
    return params;
  }

  Result<StmtPtr> FunctionDefinition(StmtPtr s) {
    auto f = std::make_shared<Function>();
    f->name = Take().text;
    f->pos = s->pos;
    Take();  // = or <-
    Take();  // function
    FEDRA_ASSIGN_OR_RETURN(f->params, Parameters("parameters"));
    if (IsName("return")) {
      Take();
      FEDRA_ASSIGN_OR_RETURN(std::vector<Param> returns, Parameters("results"));
      for (Param& r : returns) {
        if (r.default_value) return ErrorHere("results take no default values");
        f->returns.push_back(std::move(r.name));
      }
    }
    SkipNewlines();
    FEDRA_RETURN_IF_ERROR(Expect("{", "to open the body of function '" + f->name + "'"));
    FEDRA_ASSIGN_OR_RETURN(f->body, Nested([&] { return Statements(/*braced=*/true); }));
    s->kind = Stmt::Kind::kFunction;
    s->function = std::move(f);
    return s;
  }

  // Binary operators, loosest first; each level's operands are the next level's.
  static const std::vector<std::vector<std::string_view>>& Levels() {
    static const std::vector<std::vector<std::string_view>> levels = {
        {"|", "||"}, {"&", "&&"},          {},    {"==", "!=", "<", ">", "<=", ">="}, {"+", "-"},
        {"*", "/"},  {"%*%", "%%", "%/%"}, {":"},
    };
    return levels;
  }

  Result<ExprPtr> Expression() {
    return Nested([&] { return Level(0); });
  }

  Result<ExprPtr> Level(size_t level) {
    if (level == Levels().size()) return Unary();
    if (Levels()[level].empty()) {  // the level of '!'
      if (IsOp("!")) {
        const SourcePos pos = Take().pos;
        FEDRA_ASSIGN_OR_RETURN(ExprPtr operand, Nested([&] { return Level(level); }));
        return MakeUnary("!", pos, std::move(operand));
      }
      return Level(level + 1);
    }
    FEDRA_ASSIGN_OR_RETURN(ExprPtr left, Level(level + 1));
    while (true) {
      const Token& t = Peek();
      bool match = false;
      for (std::string_view op : Levels()[level]) match = match || IsOp(op);
      if (!match) return left;
      Take();
      SkipNewlines();
      FEDRA_ASSIGN_OR_RETURN(ExprPtr right, Level(level + 1));
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kBinary;
      e->pos = t.pos;
      e->text = t.text;
      e->operands.push_back(std::move(left));
      e->operands.push_back(std::move(right));
      FEDRA_ASSIGN_OR_RETURN(left, Deep(std::move(e)));
    }
  }

  Result<ExprPtr> MakeUnary(std::string op, SourcePos pos, ExprPtr operand) const {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kUnary;
    e->pos = pos;
    e->text = std::move(op);
    e->operands.push_back(std::move(operand));
    return Deep(std::move(e));
  }

  Result<ExprPtr> Unary() {
    if (IsOp("-") || IsOp("+")) {
      const Token& t = Take();
      FEDRA_ASSIGN_OR_RETURN(ExprPtr operand, Nested([&] { return Unary(); }));
      return MakeUnary(t.text, t.pos, std::move(operand));
    }
    FEDRA_ASSIGN_OR_RETURN(ExprPtr base, Postfix());
    if (!IsOp("^")) return base;
    const Token& t = Take();
    SkipNewlines();
    // Right to left, and tighter than a unary minus on its left but not on its right: 2^-1.
    FEDRA_ASSIGN_OR_RETURN(ExprPtr exponent, Nested([&] { return Unary(); }));
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kBinary;
    e->pos = t.pos;
    e->text = "^";
    e->operands.push_back(std::move(base));
    e->operands.push_back(std::move(exponent));
    return Deep(std::move(e));
  }

  Result<ExprPtr> Postfix() {
    FEDRA_ASSIGN_OR_RETURN(ExprPtr e, Primary());
    while (true) {
      if (IsOp("(")) {
        if (e->kind != Expr::Kind::kName) return ErrorHere("only a function's name can be called");
        FEDRA_ASSIGN_OR_RETURN(e, Call(std::move(e)));
      } else if (IsOp("[")) {
        FEDRA_ASSIGN_OR_RETURN(e, Index(std::move(e)));
      } else {
        return e;
      }
    }
  }

  Result<ExprPtr> Call(ExprPtr name) {
    Take();  // (
    name->kind = Expr::Kind::kCall;
    if (TakeOp(")")) return name;
    do {
      CallArg arg;
      if (Peek().kind == TokenKind::kName && IsOp("=", 1)) {
        arg.name = Take().text;
        Take();
      }
      FEDRA_ASSIGN_OR_RETURN(arg.value, Expression());
      name->args.push_back(std::move(arg));
    } while (TakeOp(","));
    FEDRA_RETURN_IF_ERROR(Expect(")", "to close the arguments of '" + name->text + "'"));
    return Deep(std::move(name));
  }

  Result<ExprPtr> Index(ExprPtr target) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kIndex;
    e->pos = Take().pos;  // [
    e->operands.push_back(std::move(target));
    if (!IsOp(",")) {
      FEDRA_ASSIGN_OR_RETURN(e->rows, Expression());
    }
    if (TakeOp(",")) {
      if (!IsOp("]")) {
        FEDRA_ASSIGN_OR_RETURN(e->cols, Expression());
      }
    } else {
      if (!e->rows) return ErrorHere("an empty index; write X[i, j], X[i, ] or X[, j]");
      e->single_index = true;
    }
    FEDRA_RETURN_IF_ERROR(Expect("]", "to close the index"));
    return Deep(std::move(e));
  }

  Result<ExprPtr> Primary() {
    const Token& t = Peek();
    auto e = std::make_unique<Expr>();
    e->pos = t.pos;
    switch (t.kind) {
      case TokenKind::kNumber:
        e->kind = Expr::Kind::kNumber;
        e->number = Take().number;
        return e;
      case TokenKind::kString:
        e->kind = Expr::Kind::kString;
        e->text = Take().text;
        return e;
      case TokenKind::kArgument:
        e->kind = Expr::Kind::kArgument;
        e->text = Take().text;
        return e;
      case TokenKind::kName:
        if (t.text == "TRUE" || t.text == "FALSE") {
          e->kind = Expr::Kind::kBool;
          e->number = t.text == "TRUE" ? 1 : 0;
          Take();
          return e;
        }
        if (t.text == "if" || t.text == "else" || t.text == "while" || t.text == "for" || t.text == "function") {
          return ErrorHere("'" + t.text + "' cannot start an expression");
        }
        e->kind = Expr::Kind::kName;
        e->text = Take().text;
        return e;
      default: break;
    }
    if (TakeOp("(")) {
      FEDRA_ASSIGN_OR_RETURN(e, Expression());
      FEDRA_RETURN_IF_ERROR(Expect(")", "to close the parenthesis"));
      return e;
    }
    return ErrorHere("expected a value, found " + Describe(t));
  }

  std::string_view source_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Program> Parse(std::string_view source) {
  FEDRA_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source));
  Parser parser(source, std::move(tokens));
  return parser.ParseProgram();
}

}  // namespace fedra::script

#include "master/script/liveness.h"

namespace fedra::script {
namespace {

using Names = std::set<std::string>;

void Uses(const Expr* e, Names* out) {
  if (!e) return;
  if (e->kind == Expr::Kind::kName) out->insert(e->text);
  for (const ExprPtr& o : e->operands) Uses(o.get(), out);
  for (const CallArg& a : e->args) Uses(a.value.get(), out);
  Uses(e->rows.get(), out);
  Uses(e->cols.get(), out);
}

Names Union(Names a, const Names& b) {
  a.insert(b.begin(), b.end());
  return a;
}

class Analysis {
 public:
  explicit Analysis(LiveAfter* out) : out_(out) {}

  // What is read before being assigned when `block` runs and then `after` is read.
  Names Block(const script::Block& block, Names after) {
    for (auto it = block.rbegin(); it != block.rend(); ++it) {
      (*out_)[it->get()] = after;
      after = Statement(**it, std::move(after));
    }
    return after;
  }

 private:
  Names Statement(const Stmt& s, Names after) {
    Names uses;
    switch (s.kind) {
      case Stmt::Kind::kFunction: {
        const Names results(s.function->returns.begin(), s.function->returns.end());
        Block(s.function->body, results);
        return after;
      }
      case Stmt::Kind::kAssign:
        for (const std::string& t : s.targets) after.erase(t);
        Uses(s.value.get(), &uses);
        return Union(std::move(after), uses);
      case Stmt::Kind::kIndexAssign:  // reads the matrix it changes
        Uses(s.index.get(), &uses);
        Uses(s.value.get(), &uses);
        return Union(std::move(after), uses);
      case Stmt::Kind::kExpr: Uses(s.value.get(), &uses); return Union(std::move(after), uses);
      case Stmt::Kind::kIf: {
        Uses(s.condition.get(), &uses);
        const Names body = Block(s.body, after), orelse = Block(s.orelse, after);
        return Union(Union(uses, body), orelse);
      }
      case Stmt::Kind::kWhile:
      case Stmt::Kind::kFor: {
        // Until nothing changes: what the body reads at the next iteration is live after it.
        Uses(s.kind == Stmt::Kind::kWhile ? s.condition.get() : nullptr, &uses);
        Names live = Union(after, uses);
        while (true) {
          Names in = Block(s.body, live);
          if (s.kind == Stmt::Kind::kFor) in.erase(s.loop_var);
          Names next = Union(Union(after, uses), in);
          if (next == live) break;
          live = std::move(next);
        }
        if (s.kind == Stmt::Kind::kWhile) return live;
        Names range;
        Uses(s.value.get(), &range);
        return Union(std::move(live), range);
      }
    }
    return after;
  }

  LiveAfter* out_;
};

}  // namespace

LiveAfter AnalyseLiveness(const Program& program) {
  LiveAfter out;
  Analysis(&out).Block(program.statements, {});
  return out;
}

}  // namespace fedra::script

// The syntax tree of a script, as the parser builds it and the interpreter walks it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "master/script/lexer.h"

namespace fedra::script {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

// An argument of a call: named (`rows = 3`) or positional (empty name).
struct CallArg {
  std::string name;
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    kNumber,    // number
    kString,    // text
    kBool,      // number: 1 or 0
    kName,      // text: a variable
    kArgument,  // text: $text
    kUnary,     // text: "-", "+" or "!"; operands[0]
    kBinary,    // text: the operator; operands[0], operands[1]
    kCall,      // text: the function; args
    kIndex,     // operands[0][rows, cols]; a null bound selects everything
  };
  Kind kind = Kind::kNumber;
  SourcePos pos;
  double number = 0;
  std::string text;
  std::vector<ExprPtr> operands;
  std::vector<CallArg> args;
  ExprPtr rows, cols;
  bool single_index = false;  // X[i]: one index, no comma
  int depth = 1;              // of the tree below, this node included
};

struct Param {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Function {
  std::string name;
  SourcePos pos;
  std::vector<Param> params;
  std::vector<std::string> returns;
  Block body;
};

struct Stmt {
  enum class Kind {
    kAssign,       // targets = value (one target; several for [a, b] = f(...))
    kIndexAssign,  // target[rows, cols] = value: `index` is the kIndex expression
    kExpr,         // value, for its effect (print, write, ...)
    kIf,           // if (condition) body else orelse
    kWhile,        // while (condition) body
    kFor,          // for (loop_var in value) body
    kFunction,     // function
  };
  Kind kind = Kind::kExpr;
  SourcePos pos;
  std::vector<std::string> targets;
  ExprPtr index;
  ExprPtr value;
  ExprPtr condition;
  Block body, orelse;
  std::string loop_var;
  std::shared_ptr<const Function> function;
};

struct Program {
  Block statements;
};

}  // namespace fedra::script

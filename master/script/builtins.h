// The builtin functions as calls see them (names, parameters, defaults), and the operators and
// builtins on local values — numbers, booleans, strings and matrices at the master — with R's
// broadcasting: a matrix meets a scalar, a row, a column or one of its own shape.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "master/script/value.h"

namespace fedra::script {

struct BuiltinParam {
  std::string name;
  std::optional<Value> default_value;  // none: required
};

struct Builtin {
  std::string name;
  std::vector<BuiltinParam> params;
  bool variadic = false;  // any number of positional arguments (cbind, rbind), at least one
};

// The builtin called `name`, or null.
const Builtin* FindBuiltin(const std::string& name);
// Every builtin's name, for messages.
std::string BuiltinNames();

// Operators on computed local values: + - * / ^ %% %/% %*% : comparisons & | && ||, and unary - + !.
Result<Value> LocalBinary(const std::string& op, const Value& a, const Value& b);
Result<Value> LocalUnary(const std::string& op, const Value& a);

// A pure builtin on computed local values, arguments in the order of its parameters (defaults
// filled in). Two results for eigen: values (ascending) then vectors, as a 1x2 list is not a
// value — see LocalEigen.
Result<Value> LocalBuiltin(const std::string& name, const std::vector<Value>& args);
// eigen(A) of a symmetric A: the eigenvalues, ascending, as a column, and the vectors as columns.
Result<std::vector<Value>> LocalEigen(const Value& a);

// Matrices made at the master have at most this many cells (128 MiB of doubles), strings at most
// kMaxTextBytes: CheckCells and the builtins refuse more.
inline constexpr int64_t kMaxLocalCells = int64_t{1} << 24;
inline constexpr size_t kMaxTextBytes = size_t{16} << 20;
Status CheckCells(double cells, const std::string& what);

// Values as matrices (numbers and booleans 1x1), and as numbers (1x1 matrices too).
Result<Matrix> ToMatrix(const Value& v, const std::string& what);
Result<double> ToNumber(const Value& v, const std::string& what);

// What print shows: numbers with up to 15 significant digits, TRUE/FALSE, matrices a row per line
// (those of more than a million cells only by their shape).
std::string FormatValue(const Value& v);
// What write puts in a file: "text" (one "row col value" line per non-zero cell, 1-based, as
// DML's text format), "csv" (a row per line) or "json"; a number as itself.
Result<std::string> FormatForWrite(const Value& v, const std::string& format);

}  // namespace fedra::script

// A DML/R-like script parsed into a syntax tree (ast.h). Errors are syntax errors with the line,
// the column and a caret under the spot.
//
//   statement := name ('=' | '<-') expr | name '[' index ']' '=' expr | '[' names ']' '=' call
//              | name '=' 'function' '(' params ')' ['return' '(' params ')'] '{' ... '}'
//              | 'if' '(' expr ')' body ['else' body] | 'while' '(' expr ')' body
//              | 'for' '(' name 'in' expr ')' body | expr
// Operators bind as in R, loosest first: | || ; & && ; ! ; comparisons ; + - ; * / ;
// %*% %% %/% ; : ; unary - + ; ^ (right to left). Parameters may carry DML types
// (`Matrix[Double] X`, `Double lambda = 0.001`), which are read and ignored.
#pragma once

#include <string_view>

#include "common/status.h"
#include "master/script/ast.h"

namespace fedra::script {

Result<Program> Parse(std::string_view source);

}  // namespace fedra::script

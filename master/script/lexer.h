// The script language's tokens: numbers, strings, names, $-arguments and R's operators, each
// with the line and column it starts at. Newlines end statements, except inside ( ) and [ ],
// where an expression may span lines as in R.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra::script {

struct SourcePos {
  int line = 1;
  int column = 1;
};

enum class TokenKind { kNumber, kString, kName, kArgument, kOperator, kNewline, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // the name, operator, argument name (without '$') or string contents
  double number = 0;
  SourcePos pos;
};

// The tokens of `source`, ending with kEnd. Errors are syntax errors (see SyntaxError).
Result<std::vector<Token>> Lex(std::string_view source);

// A syntax error at `pos`: "line L, column C: message", then the line and a caret under the spot.
Status SyntaxError(std::string_view source, SourcePos pos, const std::string& message);

// Line `line` (1-based) of `source`, without its newline; empty past the end.
std::string_view SourceLine(std::string_view source, int line);

}  // namespace fedra::script

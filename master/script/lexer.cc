#include "master/script/lexer.h"

#include <array>
#include <cctype>
#include <charconv>

namespace fedra::script {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

// Longest first, so that "<=" wins over "<".
constexpr std::array<std::string_view, 27> kOperators = {
    "%*%", "%/%", "%%", "<-", "<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/",
    "^",   "<",   ">",  "!",  "&",  "|",  "=",  ":",  ",",  ";",  "(", ")", "[",
};
constexpr std::array<std::string_view, 3> kMoreOperators = {"]", "{", "}"};

}  // namespace

std::string_view SourceLine(std::string_view source, int line) {
  size_t start = 0;
  for (int l = 1; l < line; ++l) {
    start = source.find('\n', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const size_t end = source.find('\n', start);
  std::string_view text = source.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

Status SyntaxError(std::string_view source, SourcePos pos, const std::string& message) {
  const std::string_view text = SourceLine(source, pos.line);
  std::string caret;
  for (int i = 1; i < pos.column && i <= static_cast<int>(text.size()); ++i) caret += text[i - 1] == '\t' ? '\t' : ' ';
  return InvalidArgument("line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) + ": " +
                         message + "\n  " + std::string(text) + "\n  " + caret + "^");
}

Result<std::vector<Token>> Lex(std::string_view src) {
  std::vector<Token> tokens;
  size_t i = 0;
  SourcePos pos;
  int depth = 0;  // of ( and [: newlines inside do not end statements
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n; ++k, ++i) {
      if (src[i] == '\n') {
        ++pos.line;
        pos.column = 1;
      } else {
        ++pos.column;
      }
    }
  };
  while (i < src.size()) {
    const char c = src[i];
    const SourcePos start = pos;
    if (c == '#') {
      while (i < src.size() && src[i] != '\n') advance(1);
      continue;
    }
    if (c == '\n') {
      if (depth == 0) tokens.push_back({TokenKind::kNewline, "\n", 0, start});
      advance(1);
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      advance(1);
      continue;
    }
    const bool digit_next = i + 1 < src.size() && std::isdigit(static_cast<unsigned char>(src[i + 1]));
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && digit_next)) {
      size_t end = i;
      while (end < src.size() && (std::isdigit(static_cast<unsigned char>(src[end])) || src[end] == '.')) ++end;
      if (end < src.size() && (src[end] == 'e' || src[end] == 'E')) {
        size_t e = end + 1;
        if (e < src.size() && (src[e] == '+' || src[e] == '-')) ++e;
        if (e < src.size() && std::isdigit(static_cast<unsigned char>(src[e]))) {
          end = e;
          while (end < src.size() && std::isdigit(static_cast<unsigned char>(src[end]))) ++end;
        }
      }
      Token t{TokenKind::kNumber, std::string(src.substr(i, end - i)), 0, start};
      const auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), t.number);
      if (ec != std::errc() || ptr != t.text.data() + t.text.size()) {
        return SyntaxError(src, start, "'" + t.text + "' is not a number");
      }
      advance(end - i);
      if (i < src.size() && src[i] == 'L') advance(1);  // R's integer suffix
      tokens.push_back(std::move(t));
      continue;
    }
    if (IsNameStart(c)) {
      size_t end = i;
      while (end < src.size() && IsNameChar(src[end])) ++end;
      tokens.push_back({TokenKind::kName, std::string(src.substr(i, end - i)), 0, start});
      advance(end - i);
      continue;
    }
    if (c == '$') {
      size_t end = i + 1;
      while (end < src.size() && IsNameChar(src[end])) ++end;
      if (end == i + 1) return SyntaxError(src, start, "'$' must be followed by an argument's name or number");
      tokens.push_back({TokenKind::kArgument, std::string(src.substr(i + 1, end - i - 1)), 0, start});
      advance(end - i);
      continue;
    }
    if (c == '"' || c == '\'') {
      std::string text;
      advance(1);
      while (true) {
        if (i >= src.size() || src[i] == '\n') return SyntaxError(src, start, "this string is not closed");
        if (src[i] == c) break;
        if (src[i] == '\\' && i + 1 < src.size()) {
          const char e = src[i + 1];
          text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          advance(2);
          continue;
        }
        text += src[i];
        advance(1);
      }
      advance(1);
      tokens.push_back({TokenKind::kString, std::move(text), 0, start});
      continue;
    }
    std::string_view op;
    for (std::string_view candidate : kOperators) {
      if (src.substr(i, candidate.size()) == candidate) {
        op = candidate;
        break;
      }
    }
    for (std::string_view candidate : kMoreOperators) {
      if (op.empty() && src.substr(i, candidate.size()) == candidate) op = candidate;
    }
    if (op.empty()) {
      if (c == '%') return SyntaxError(src, start, "unknown operator; the %-operators are %*%, %% and %/%");
      return SyntaxError(src, start, std::string("unexpected character '") + c + "'");
    }
    if (op == "(" || op == "[") ++depth;
    if ((op == ")" || op == "]") && depth > 0) --depth;
    tokens.push_back({TokenKind::kOperator, std::string(op), 0, start});
    advance(op.size());
  }
  tokens.push_back({TokenKind::kEnd, "", 0, pos});
  return tokens;
}

}  // namespace fedra::script

#include "common/csv_reader.h"

#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <new>
#include <system_error>
#include <thread>
#include <utility>

namespace fedra {
namespace {

constexpr char kQuote = '"';
constexpr std::string_view kBom = "\xEF\xBB\xBF";

// ---- Characters and lines -------------------------------------------------------------------

// What a skipped (blank) line may consist of.
inline bool IsBlankChar(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline const char* FindChar(const char* p, const char* end, char c) {
  if (p >= end) return end;
  const void* hit = std::memchr(p, c, static_cast<size_t>(end - p));
  return hit ? static_cast<const char*>(hit) : end;
}

inline const char* AfterLine(const char* line_end, const char* end) { return line_end == end ? end : line_end + 1; }

bool IsBlankLine(const char* p, const char* line_end) {
  for (; p < line_end; ++p) {
    if (!IsBlankChar(*p)) return false;
  }
  return true;
}

const char* SkipBlankLines(const char* p, const char* end) {
  while (p < end) {
    const char* nl = FindChar(p, end, '\n');
    if (!IsBlankLine(p, nl)) return p;
    p = AfterLine(nl, end);
  }
  return end;
}

// 1-based physical line holding `at`.
size_t LineNumber(const char* begin, const char* at) {
  size_t line = 1;
  for (const char* p = FindChar(begin, at, '\n'); p < at; p = FindChar(p + 1, at, '\n')) ++line;
  return line;
}

struct Dialect {
  char delim;
  // Padding around a value: blank characters other than the delimiter (which may be a tab).
  bool IsPad(char c) const { return IsBlankChar(c) && c != delim; }
  const char* SkipPad(const char* p, const char* end) const {
    while (p < end && IsPad(*p)) ++p;
    return p;
  }
  bool EndsField(const char* p, const char* end) const { return p == end || *p == delim || *p == '\n'; }
  const char* FieldEnd(const char* p, const char* end) const {
    while (!EndsField(p, end)) ++p;
    return p;
  }
};

// `open` points at an opening quote. Returns the character after the closing quote ("" inside is
// an escaped quote), or nullptr when the quote is never closed.
const char* SkipQuoted(const char* open, const char* end) {
  const char* p = open + 1;
  for (;;) {
    const char* q = FindChar(p, end, kQuote);
    if (q == end) return nullptr;
    if (q + 1 < end && q[1] == kQuote) {
      p = q + 2;
      continue;
    }
    return q + 1;
  }
}

// Finds record ends ('\n' outside quoted fields) in a region that starts at a record start.
// A quote opens a quoted field only at the start of a field (after padding); elsewhere it is an
// ordinary character. The chunk parser follows the same rule, so both see the same records.
class RecordEnds {
 public:
  RecordEnds(const char* begin, const char* end, const Dialect& dialect, bool quoted)
      : begin_(begin), end_(end), dialect_(dialect), quoted_(quoted), pos_(begin) {
    next_quote_ = quoted ? FindChar(begin, end, kQuote) : end;
  }

  // The first '\n' at or after `from` that lies outside quotes, or end. Calls must not decrease
  // `from`.
  const char* Next(const char* from) {
    if (!quoted_) return FindChar(from, end_, '\n');
    for (;;) {
      if (from < pos_) from = pos_;
      if (next_newline_ == nullptr || next_newline_ < from) {
        next_newline_ = FindChar(from, end_, '\n');
      }
      if (next_quote_ == end_ || next_newline_ < next_quote_) return next_newline_;
      const char* q = next_quote_;
      if (OpensField(q)) {
        const char* close = SkipQuoted(q, end_);
        if (close == nullptr) {  // unterminated: the parser reports it
          pos_ = next_quote_ = end_;
          return end_;
        }
        pos_ = close;
      } else {
        pos_ = q + 1;
      }
      next_quote_ = FindChar(pos_, end_, kQuote);
    }
  }

 private:
  bool OpensField(const char* q) const {
    while (q > begin_ && dialect_.IsPad(q[-1])) --q;
    return q == begin_ || q[-1] == dialect_.delim || q[-1] == '\n';
  }

  const char* const begin_;
  const char* const end_;
  const Dialect dialect_;
  const bool quoted_;
  const char* pos_;  // everything before it is classified; it lies outside quotes
  const char* next_quote_;
  const char* next_newline_ = nullptr;  // the first '\n' at or after the last `from`
};

size_t CountRecords(const char* begin, const char* end, const Dialect& dialect, bool quoted) {
  RecordEnds ends(begin, end, dialect, quoted);
  size_t records = 0;
  for (const char* p = begin; p < end;) {
    const char* nl = ends.Next(p);
    if (!IsBlankLine(p, nl)) ++records;
    p = AfterLine(nl, end);
  }
  return records;
}

// ---- Errors ------------------------------------------------------------------------------------

// A content error, located by pointer; the line number is computed only when it is reported.
struct CellError {
  CellError() = default;
  CellError(const char* where, size_t field, std::string what) : at(where), column(field), detail(std::move(what)) {}

  const char* at = nullptr;
  size_t column = 0;  // 1-based field; 0 = the error is about the whole record
  std::string detail;
  // A cell that is not a number: its text, shown only where the options allow.
  bool unparsable = false;
  std::string cell;
};

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 40;
  if (s.size() > kMax) return "\"" + std::string(s.substr(0, kMax)) + "...\"";
  return "\"" + std::string(s) + "\"";
}

CellError Unparsable(const char* at, size_t column, std::string_view cell) {
  CellError e(at, column, cell.empty() ? "empty cell" : "");
  e.unparsable = true;
  e.cell = std::string(cell);
  return e;
}

std::string Detail(const CellError& e, const CsvOptions& options) {
  if (e.unparsable && std::find(options.missing.begin(), options.missing.end(), e.cell) != options.missing.end()) {
    return "a missing value (" + (e.cell.empty() ? std::string("an empty cell") : Quoted(e.cell)) +
           "): the columns a job reads must hold a number in every row; leave the column out or fill it in";
  }
  if (!e.unparsable || e.cell.empty()) return e.detail;
  return options.locate_cells ? "cannot parse " + Quoted(e.cell) + " as a number" : "a cell that is not a number";
}

// ---- Columns -----------------------------------------------------------------------------------

struct Layout {
  size_t fields = 0;               // per record
  bool named = false;              // names come from a header
  std::vector<std::string> names;  // of every field
  std::vector<size_t> selected;    // output column -> field
  std::vector<int> output_of;      // field -> first output column holding it, or -1
};

Status FormatError(const CellError& e, const char* text_begin, const std::string& source, const Layout& layout,
                   const CsvOptions& options) {
  const bool locate_cells = options.locate_cells;
  std::string msg = source;
  if (locate_cells) msg += ": line " + std::to_string(LineNumber(text_begin, e.at));
  if (e.column > 0) {
    msg += (locate_cells ? ", column " : ": column ") + std::to_string(e.column);
    if (layout.named && e.column <= layout.names.size()) {
      msg += " (" + Quoted(layout.names[e.column - 1]) + ")";
    }
  }
  return DataLoss(msg + ": " + Detail(e, options));
}

std::string ListNames(const std::vector<std::string>& names) {
  constexpr size_t kShown = 10;
  std::string list;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) {
    if (i > 0) list += ", ";
    list += Quoted(names[i]);
  }
  if (names.size() > kShown) list += ", ... (" + std::to_string(names.size() - kShown) + " more)";
  return list.empty() ? "none" : list;
}

Status SelectColumns(const std::vector<std::string>& select, const std::string& source, Layout* layout) {
  std::vector<size_t>& selected = layout->selected;
  if (select.empty()) {
    for (size_t i = 0; i < layout->fields; ++i) selected.push_back(i);
  }
  for (const std::string& want : select) {
    auto by_name = std::find(layout->names.begin(), layout->names.end(), want);
    if (by_name != layout->names.end()) {
      selected.push_back(static_cast<size_t>(by_name - layout->names.begin()));
      continue;
    }
    const bool digits =
        !want.empty() && std::all_of(want.begin(), want.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      return InvalidArgument(source + ": unknown column " + Quoted(want) +
                             "; available columns: " + ListNames(layout->names));
    }
    size_t index = 0;
    auto [ptr, ec] = std::from_chars(want.data(), want.data() + want.size(), index);
    if (ec != std::errc() || index >= layout->fields) {
      return InvalidArgument(source + ": column index " + want + " is out of range (" + std::to_string(layout->fields) +
                             " columns)");
    }
    selected.push_back(index);
  }
  layout->output_of.assign(layout->fields, -1);
  for (size_t j = 0; j < selected.size(); ++j) {
    if (layout->output_of[selected[j]] < 0) layout->output_of[selected[j]] = static_cast<int>(j);
  }
  return Status::Ok();
}

// Splits the record at `p` (not blank) into unquoted, unpadded fields; leaves `p` after it.
// Used for the header (or first) record only: the bulk of the data takes ChunkParser's fast path.
bool ReadRecord(const char*& p, const char* end, const Dialect& dialect, std::vector<std::string>* fields,
                CellError* error) {
  for (;;) {
    p = dialect.SkipPad(p, end);
    std::string field;
    if (p < end && *p == kQuote) {
      const char* close = SkipQuoted(p, end);
      if (close == nullptr) {
        *error = {p, fields->size() + 1, "unterminated quoted field"};
        return false;
      }
      for (const char* c = p + 1; c < close - 1; ++c) {
        field += *c;
        if (*c == kQuote) ++c;  // "" -> "
      }
      p = dialect.SkipPad(close, end);
      if (!dialect.EndsField(p, end)) {
        *error = {p, fields->size() + 1, "unexpected character after closing quote"};
        return false;
      }
    } else {
      const char* field_end = dialect.FieldEnd(p, end);
      const char* last = field_end;
      while (last > p && dialect.IsPad(last[-1])) --last;
      field.assign(p, last);
      p = field_end;
    }
    fields->push_back(std::move(field));
    if (p == end) return true;
    if (*p++ == '\n') return true;
  }
}

// ---- Numbers -----------------------------------------------------------------------------------

// from_chars reports values beyond double's range; read them as strtod does (to +-inf or +-0),
// in the C locale whatever the process locale is.
double ParseOutOfRange(const char* first, const char* last) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
  const std::string token(first, last);
  return c_locale ? strtod_l(token.c_str(), nullptr, c_locale) : strtod(token.c_str(), nullptr);
}

// Parses a whole cell (padding allowed) as a number.
bool ParseNumber(std::string_view cell, double* value) {
  const char* p = cell.data();
  const char* end = p + cell.size();
  while (p < end && IsBlankChar(*p)) ++p;
  while (end > p && IsBlankChar(end[-1])) --end;
  if (end - p > 1 && p[0] == '+' && p[1] != '-') ++p;
  auto [ptr, ec] = std::from_chars(p, end, *value);
  if (ec == std::errc::result_out_of_range) {
    *value = ParseOutOfRange(p, ptr);
  } else if (ec != std::errc()) {
    return false;
  }
  return ptr == end;
}

// ---- Parallel parse ----------------------------------------------------------------------------

// Runs fn(0..n-1), each on its own thread (0 on the caller's). If a thread cannot be started its
// share runs on the caller's thread instead.
template <typename Fn>
void RunParallel(size_t n, const Fn& fn) {
  std::vector<std::thread> workers;
  size_t started = 1;
  try {
    workers.reserve(n);
    for (; started < n; ++started) workers.emplace_back([&fn, started] { fn(started); });
  } catch (...) {
  }
  fn(0);
  for (size_t i = started; i < n; ++i) fn(i);
  for (std::thread& w : workers) w.join();
}

// Shares progress reports among workers: one report per `step` bytes in all, about 20 per read.
class ProgressMeter {
 public:
  ProgressMeter(const std::function<void(size_t, size_t)>& fn, size_t done, size_t total)
      : fn_(fn), total_(total), step_(std::max<size_t>(total / 20, 1)), done_(done) {}

  size_t step() const { return step_; }
  bool enabled() const { return static_cast<bool>(fn_); }
  void Add(size_t bytes) {
    const size_t done = done_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    fn_(std::min(done, total_), total_);
  }
  void Finish() {
    if (fn_) fn_(total_, total_);
  }

 private:
  const std::function<void(size_t, size_t)>& fn_;
  const size_t total_;
  const size_t step_;
  std::atomic<size_t> done_;
};

// Parses the records of one chunk into their rows of the column-major result. Rows are gathered
// row-major in a small block, then written column by column, so each column receives a run of
// consecutive doubles rather than one value per row. (At 20 and at 5,000 columns this measured the
// same as storing each value straight into the matrix; it keeps the writes sequential however wide
// the table is.)
class ChunkParser {
 public:
  ChunkParser(const Dialect& dialect, const Layout& layout, double* data, size_t total_rows, ProgressMeter* progress)
      : dialect_(dialect),
        layout_(layout),
        data_(data),
        total_rows_(total_rows),
        width_(layout.selected.size()),
        block_rows_(std::clamp<size_t>(kBlockValues / std::max<size_t>(width_, 1), 8, 1024)),
        block_(block_rows_ * width_),
        progress_(progress) {}

  // Parses [p, end), which holds exactly `rows` records, into rows [first_row, first_row + rows).
  // False with *error at the first bad record.
  bool Parse(const char* p, const char* end, size_t first_row, size_t rows, CellError* error) {
    next_row_ = first_row;
    stop_row_ = first_row + rows;
    reported_ = p;
    while (p < end) {
      if (IsBlankChar(*p) || *p == '\n') {
        const char* nl = FindChar(p, end, '\n');
        if (IsBlankLine(p, nl)) {
          p = AfterLine(nl, end);
          continue;
        }
      }
      if (next_row_ + used_ == stop_row_) return Mismatch(p, error);
      if (!ParseRecord(p, end, block_.data() + used_ * width_, error)) return false;
      if (++used_ == block_rows_) Flush(p);
    }
    Flush(p);
    return next_row_ == stop_row_ || Mismatch(p, error);
  }

 private:
  static constexpr size_t kBlockValues = 8192;  // 64 KiB of doubles: stays in L2

  bool ParseRecord(const char*& p, const char* end, double* row, CellError* error) {
    const char* record = p;
    const size_t fields = layout_.fields;
    size_t f = 0;
    for (;; ++f) {
      p = dialect_.SkipPad(p, end);
      const int out = f < fields ? layout_.output_of[f] : -1;
      if (p < end && *p == kQuote) {
        if (!ParseQuoted(p, end, f, out < 0 ? nullptr : row + out, error)) return false;
      } else if (out >= 0) {
        const char* cell = p;
        if (end - p > 1 && p[0] == '+' && p[1] != '-') ++p;
        double value;
        auto [ptr, ec] = std::from_chars(p, end, value);
        p = dialect_.SkipPad(ptr, end);
        if (ec != std::errc() || !dialect_.EndsField(p, end)) {
          if (ec != std::errc::result_out_of_range || !dialect_.EndsField(p, end)) {
            return BadCell(cell, end, f, error);
          }
          value = ParseOutOfRange(cell, ptr);
        }
        row[out] = value;
      } else {
        p = dialect_.FieldEnd(p, end);  // not selected (or surplus): any text
      }
      if (p == end || *p == '\n') break;
      ++p;  // the delimiter
    }
    if (f + 1 != fields) {
      *error = {record, 0, "expected " + std::to_string(fields) + " fields, found " + std::to_string(f + 1)};
      return false;
    }
    if (p < end) ++p;
    return true;
  }

  // `p` is at an opening quote; leaves it at the delimiter or line end after the field.
  bool ParseQuoted(const char*& p, const char* end, size_t f, double* value, CellError* error) {
    const char* open = p;
    const char* close = SkipQuoted(open, end);
    if (close == nullptr) {
      *error = {open, f + 1, "unterminated quoted field"};
      return false;
    }
    p = dialect_.SkipPad(close, end);
    if (!dialect_.EndsField(p, end)) {
      *error = {p, f + 1, "unexpected character after closing quote"};
      return false;
    }
    if (value == nullptr) return true;
    std::string_view cell(open + 1, static_cast<size_t>(close - 1 - (open + 1)));
    if (cell.find(kQuote) != std::string_view::npos) {
      scratch_.clear();
      for (size_t i = 0; i < cell.size(); ++i) {
        scratch_ += cell[i];
        if (cell[i] == kQuote) ++i;
      }
      cell = scratch_;
    }
    if (ParseNumber(cell, value)) return true;
    while (!cell.empty() && IsBlankChar(cell.front())) cell.remove_prefix(1);
    while (!cell.empty() && IsBlankChar(cell.back())) cell.remove_suffix(1);
    *error = Unparsable(open, f + 1, cell);
    return false;
  }

  bool BadCell(const char* cell, const char* end, size_t f, CellError* error) {
    const char* last = dialect_.FieldEnd(cell, end);
    while (last > cell && dialect_.IsPad(last[-1])) --last;
    *error = Unparsable(cell, f + 1, std::string_view(cell, last - cell));
    return false;
  }

  bool Mismatch(const char* p, CellError* error) {
    *error = {p, 0, "internal error: record count changed between passes"};
    return false;
  }

  void Flush(const char* p) {
    for (size_t j = 0; j < width_; ++j) {
      double* dst = data_ + j * total_rows_ + next_row_;
      const double* src = block_.data() + j;
      for (size_t r = 0; r < used_; ++r) dst[r] = src[r * width_];
    }
    next_row_ += used_;
    used_ = 0;
    if (progress_->enabled() && static_cast<size_t>(p - reported_) >= progress_->step()) {
      progress_->Add(static_cast<size_t>(p - reported_));
      reported_ = p;
    }
  }

  const Dialect dialect_;
  const Layout& layout_;
  double* const data_;
  const size_t total_rows_;
  const size_t width_;       // selected columns
  const size_t block_rows_;  // rows gathered before a flush
  std::vector<double> block_;
  ProgressMeter* const progress_;
  size_t used_ = 0;  // rows in block_
  size_t next_row_ = 0;
  size_t stop_row_ = 0;
  const char* reported_ = nullptr;
  std::string scratch_;
};

// ---- Planning: header, columns, chunks, row counts ---------------------------------------------

struct Plan {
  Layout layout;
  const char* begin = nullptr;  // of the whole text (line numbers count from here)
  const char* end = nullptr;
  bool quoted = false;            // the text holds a quote somewhere
  std::vector<const char*> cuts;  // chunk k is [cuts[k], cuts[k+1]), each starting a record
  std::vector<size_t> first_row;  // of chunk k; the last entry is the row count
  size_t rows() const { return first_row.back(); }
  size_t chunks() const { return cuts.size() - 1; }
};

std::vector<const char*> CutChunks(const char* body, const char* end, size_t n, const Dialect& dialect, bool quoted) {
  std::vector<const char*> cuts{body};
  RecordEnds ends(body, end, dialect, quoted);
  const size_t length = static_cast<size_t>(end - body);
  for (size_t k = 1; k < n; ++k) {
    const char* target = std::max(body + length / n * k, cuts.back());
    const char* cut = AfterLine(ends.Next(target), end);
    if (cut == end) break;
    if (cut > cuts.back()) cuts.push_back(cut);
  }
  cuts.push_back(end);
  return cuts;
}

// The part of a plan the header decides: the text's bounds, the layout (selection applied), and
// where the data records start, which it returns.
Result<const char*> PlanHeader(std::string_view text, const CsvOptions& options, const std::string& source, Plan* out) {
  const Dialect dialect{options.delimiter};
  if (dialect.delim == kQuote || dialect.delim == '\n' || dialect.delim == '\r') {
    return InvalidArgument(source + ": the delimiter cannot be a quote or a line end");
  }
  Plan& plan = *out;
  plan.begin = text.data();
  plan.end = text.data() + text.size();
  plan.quoted = FindChar(plan.begin, plan.end, kQuote) != plan.end;
  const char* p = text.substr(0, kBom.size()) == kBom ? plan.begin + kBom.size() : plan.begin;
  p = SkipBlankLines(p, plan.end);

  Layout& layout = plan.layout;
  if (p < plan.end) {
    const char* first = p;
    CellError error;
    if (!ReadRecord(p, plan.end, dialect, &layout.names, &error)) {
      return FormatError(error, plan.begin, source, layout, options);
    }
    layout.fields = layout.names.size();
    layout.named = options.header;
    if (!options.header) {
      for (size_t i = 0; i < layout.fields; ++i) layout.names[i] = "c" + std::to_string(i);
      p = first;  // the first record is data
    }
  }
  FEDRA_RETURN_IF_ERROR(SelectColumns(options.select, source, &layout));
  return p;
}

Result<Plan> MakePlan(std::string_view text, const CsvOptions& options, const std::string& source) {
  const Dialect dialect{options.delimiter};
  Plan plan;
  FEDRA_ASSIGN_OR_RETURN(const char* p, PlanHeader(text, options, source, &plan));
  const size_t threads = options.threads ? options.threads : std::thread::hardware_concurrency();
  const size_t by_size = static_cast<size_t>(plan.end - p) / std::max<size_t>(options.min_chunk_bytes, 1);
  const size_t chunks = std::clamp<size_t>(by_size, 1, std::max<size_t>(threads, 1));
  plan.cuts = CutChunks(p, plan.end, chunks, dialect, plan.quoted);

  std::vector<size_t> counts(plan.chunks());
  RunParallel(plan.chunks(),
              [&](size_t k) { counts[k] = CountRecords(plan.cuts[k], plan.cuts[k + 1], dialect, plan.quoted); });
  plan.first_row.assign(1, 0);
  for (size_t c : counts) plan.first_row.push_back(plan.first_row.back() + c);
  return plan;
}

std::vector<std::string> SelectedNames(const Layout& layout) {
  std::vector<std::string> names;
  for (size_t field : layout.selected) names.push_back(layout.names[field]);
  return names;
}

Result<CsvTable> ParseWithSource(std::string_view text, const CsvOptions& options, const std::string& source) {
  FEDRA_ASSIGN_OR_RETURN(Plan plan, MakePlan(text, options, source));
  const Layout& layout = plan.layout;
  const size_t rows = plan.rows();
  const size_t cols = layout.selected.size();
  if (options.admit) FEDRA_RETURN_IF_ERROR(options.admit(rows, cols));

  CsvTable table;
  try {
    table.values.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(source + ": cannot allocate a " + std::to_string(rows) + " x " + std::to_string(cols) +
                             " matrix");
  }
  table.column_names = SelectedNames(layout);

  const Dialect dialect{options.delimiter};
  ProgressMeter progress(options.progress, static_cast<size_t>(plan.cuts.front() - plan.begin), text.size());
  std::vector<CellError> errors(plan.chunks());
  std::vector<char> failed(plan.chunks(), 0);
  RunParallel(plan.chunks(), [&](size_t k) {
    ChunkParser parser(dialect, layout, table.values.data(), rows, &progress);
    failed[k] = !parser.Parse(plan.cuts[k], plan.cuts[k + 1], plan.first_row[k],
                              plan.first_row[k + 1] - plan.first_row[k], &errors[k]);
  });
  for (size_t k = 0; k < plan.chunks(); ++k) {
    if (failed[k]) return FormatError(errors[k], plan.begin, source, layout, options);
  }
  for (size_t j = 0; j < cols; ++j) {  // a column selected twice is parsed once
    const auto first = static_cast<size_t>(layout.output_of[layout.selected[j]]);
    if (first != j) table.values.col(static_cast<Eigen::Index>(j)) = table.values.col(first);
  }
  progress.Finish();
  return table;
}

// ---- Files -------------------------------------------------------------------------------------

// The bytes of a whole file, read into memory. Not mapped: a file truncated while it is mapped
// kills the reader with SIGBUS, and a data owner may rewrite a file while a site reads it. Read
// bytes are the reader's own: a file rewritten meanwhile gives a parse error or a mix of old and
// new records, never a crash.
class FileBytes {
 public:
  // Errors call the file `name`.
  Status Open(const std::string& path, const std::string& name) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OpenError(name, errno);
    Status status = Load(fd, name);
    close(fd);
    return status;
  }

  std::string_view bytes() const { return {data_.get(), size_}; }

 private:
  static Status OpenError(const std::string& path, int err) {
    std::string msg = "cannot open " + path + ": " + std::generic_category().message(err);
    if (err == ENOENT || err == ENOTDIR) return NotFound(std::move(msg));
    if (err == EACCES || err == EPERM) return PermissionDenied(std::move(msg));
    return DataLoss(std::move(msg));
  }

  Status Load(int fd, const std::string& path) {
    struct stat st;
    if (fstat(fd, &st) != 0) return OpenError(path, errno);
    if (S_ISDIR(st.st_mode)) return InvalidArgument(path + " is a directory, not a CSV file");
    // A regular file is read into one buffer of its size, left uninitialised (it is overwritten),
    // which grows if the file does meanwhile.
    size_t capacity = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : 1 << 16;
    try {
      data_ = std::make_unique_for_overwrite<char[]>(capacity);
    } catch (const std::bad_alloc&) {
      return ResourceExhausted(path + ": " + std::to_string(st.st_size) + " bytes do not fit in memory");
    }
    for (;;) {
      if (size_ == capacity) {
        std::unique_ptr<char[]> bigger;
        try {
          bigger = std::make_unique_for_overwrite<char[]>(capacity * 2);
        } catch (const std::bad_alloc&) {
          return ResourceExhausted(path + ": over " + std::to_string(size_) + " bytes do not fit in memory");
        }
        std::memcpy(bigger.get(), data_.get(), size_);
        data_ = std::move(bigger);
        capacity *= 2;
      }
      const ssize_t n = read(fd, data_.get() + size_, capacity - size_);
      if (n == 0) return Status::Ok();
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return DataLoss("cannot read " + path + ": " + std::generic_category().message(errno));
      size_ += static_cast<size_t>(n);
    }
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

}  // namespace

Result<CsvTable> ParseCsv(std::string_view text, const CsvOptions& options) {
  return ParseWithSource(text, options, options.source_name.empty() ? "<text>" : options.source_name);
}

Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options) {
  const std::string source = options.source_name.empty() ? path : options.source_name;
  FileBytes file;
  FEDRA_RETURN_IF_ERROR(file.Open(path, source));
  return ParseWithSource(file.bytes(), options, source);
}

Result<CsvShape> ProbeCsvFile(const std::string& path, const CsvOptions& options) {
  const std::string source = options.source_name.empty() ? path : options.source_name;
  FileBytes file;
  FEDRA_RETURN_IF_ERROR(file.Open(path, source));
  FEDRA_ASSIGN_OR_RETURN(Plan plan, MakePlan(file.bytes(), options, source));
  CsvShape shape;
  shape.rows = plan.rows();
  shape.column_names = SelectedNames(plan.layout);
  return shape;
}

Result<size_t> ScanCsvRows(const std::string& path, const CsvOptions& options, const CsvRowVisitor& visit) {
  const std::string source = options.source_name.empty() ? path : options.source_name;
  FileBytes file;
  FEDRA_RETURN_IF_ERROR(file.Open(path, source));
  CsvOptions all = options;
  all.select.clear();
  FEDRA_ASSIGN_OR_RETURN(const Plan plan, MakePlan(file.bytes(), all, source));
  const size_t chunks = plan.chunks();
  // The line each chunk starts on.
  std::vector<size_t> first_line(chunks + 1, 0);
  RunParallel(chunks, [&](size_t k) {
    first_line[k + 1] = static_cast<size_t>(std::count(plan.cuts[k], plan.cuts[k + 1], '\n'));
  });
  first_line[0] = 1 + static_cast<size_t>(std::count(plan.begin, plan.cuts[0], '\n'));
  for (size_t k = 1; k <= chunks; ++k) first_line[k] += first_line[k - 1];

  const Dialect dialect{options.delimiter};
  std::vector<CellError> errors(chunks);
  std::vector<char> failed(chunks, 0);
  RunParallel(chunks, [&](size_t k) {
    const char* end = plan.cuts[k + 1];
    std::vector<std::string> fields;
    const char* counted = plan.cuts[k];  // newlines before here are in `line`
    size_t line = first_line[k], row = plan.first_row[k];
    for (const char* p = SkipBlankLines(plan.cuts[k], end); p < end; p = SkipBlankLines(p, end)) {
      line += static_cast<size_t>(std::count(counted, p, '\n'));
      counted = p;
      fields.clear();
      if (row == plan.first_row[k + 1]) {
        errors[k] = {p, 0, "internal error: record count changed between passes"};
        failed[k] = 1;
        return;
      }
      if (!ReadRecord(p, end, dialect, &fields, &errors[k])) {
        failed[k] = 1;
        return;
      }
      if (!visit(row++, line, fields)) return;
    }
  });
  for (size_t k = 0; k < chunks; ++k) {
    if (failed[k]) return FormatError(errors[k], plan.begin, source, plan.layout, options);
  }
  return plan.rows();
}

Status ScanCsvFile(const std::string& path, const CsvOptions& options, const CsvRecordVisitor& visit) {
  CsvOptions one = options;
  one.threads = 1;
  return ScanCsvRows(path, one,
                     [&](size_t, size_t line, const std::vector<std::string>& fields) { return visit(line, fields); })
      .status();
}

bool ParseCsvNumber(std::string_view cell, double* value) { return ParseNumber(cell, value); }

}  // namespace fedra

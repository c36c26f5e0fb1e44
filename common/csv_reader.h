// CsvReader: numeric CSV text -> a fedra::Matrix, parsed in parallel.
//
// Dialect: RFC 4180 quoting (quoted fields may hold the delimiter, newlines and doubled quotes
// ""), "\n" or "\r\n" line ends, an optional UTF-8 BOM, a final line without a newline. Lines
// holding only spaces, tabs and '\r' are skipped wherever they are. Spaces and tabs around a value
// are ignored; a quoted value ("1.5") is a number like any other. Values are read with
// std::from_chars (so "nan", "inf", "-inf" are accepted), plus an optional leading '+'.
// Only the selected columns are parsed as numbers; the others may hold any text.
//
// Errors are Status values, never exceptions:
//   kNotFound           the file does not exist;
//   kInvalidArgument    a bad option (delimiter) or a selected column that does not exist;
//   kDataLoss           bad content: unparsable or empty cell, ragged row, unterminated quote;
//   kResourceExhausted  the matrix cannot be allocated;
//   or whatever `admit` returns.
// A content error names the source, the 1-based physical line (every line of the file counts:
// header, blank lines, lines inside quoted fields) and, for a cell, the 1-based column and its
// header name:  data.csv: line 7, column 3 ("price"): cannot parse "abc" as a number
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/matrix.h"
#include "common/status.h"

namespace fedra {

struct CsvOptions {
  char delimiter = ',';  // must not be '"', '\n' or '\r'
  bool header = true;    // the first non-blank line holds the column names
  // Columns to keep, in this order (an entry may repeat). Each entry is a column name, or, when no
  // name matches and it is all digits, a 0-based column index. Empty = all columns.
  // Without a header the names are "c0", "c1", ...
  std::vector<std::string> select;
  unsigned threads = 0;  // 0 = std::thread::hardware_concurrency()
  // Inputs are cut into at most `threads` chunks of at least this many bytes each; smaller inputs
  // use fewer threads. Tests lower it to exercise the chunk boundaries.
  size_t min_chunk_bytes = size_t{256} << 10;
  // How errors name the source, also when the file cannot be opened; empty = the path
  // (ReadCsvFile) or "<text>" (ParseCsv).
  std::string source_name;
  // Errors say on which line a bad cell is and quote its text; off where errors travel from a
  // protected dataset (they then name the column only).
  bool locate_cells = true;
  // Cells that mean "no value" (e.g. "NA"): an error on one says it is a missing value.
  std::vector<std::string> missing;
  // Called once with the data row count and the selected column count, before any value is parsed
  // and before the matrix is allocated; a non-ok Status aborts the read and is returned as is.
  std::function<Status(size_t rows, size_t cols)> admit;
  // Called with (bytes parsed so far, total bytes) about 20 times per read and once at the end
  // with done == total. May run on worker threads, concurrently with itself: keep it cheap and
  // thread-safe.
  std::function<void(size_t done, size_t total)> progress;
};

struct CsvTable {
  Matrix values;                          // one row per data line, one column per selected column
  std::vector<std::string> column_names;  // of the selected columns, in `values` order
};

struct CsvShape {
  size_t rows = 0;                        // data rows (blank lines and the header not counted)
  std::vector<std::string> column_names;  // of the selected columns
};

// Parses `text`. An empty or header-only text gives a 0-row matrix with the header's columns.
Result<CsvTable> ParseCsv(std::string_view text, const CsvOptions& options);

// Maps (or reads) the file at `path`, then parses it as ParseCsv does.
// The file must not be truncated while it is being read.
Result<CsvTable> ReadCsvFile(const std::string& path, const CsvOptions& options);

// The shape ReadCsvFile would return, found by counting lines without parsing any value (cells are
// not checked). Applies `select`; does not call `admit` or `progress`.
Result<CsvShape> ProbeCsvFile(const std::string& path, const CsvOptions& options);

// The reader's rule for a number: a whole cell (spaces and tabs around it allowed) that
// std::from_chars reads, with an optional leading '+'; values beyond double's range read as
// strtod reads them.
bool ParseCsvNumber(std::string_view cell, double* value);

// Calls `visit` with every data record's 1-based line and its fields (unquoted and unpadded,
// as text; a record may have more or fewer fields than the header), in file order, until it
// returns false. For checks that must see every cell whatever it holds. `select` is ignored.
using CsvRecordVisitor = std::function<bool(size_t line, const std::vector<std::string>& fields)>;
Status ScanCsvFile(const std::string& path, const CsvOptions& options, const CsvRecordVisitor& visit);

// ScanCsvFile on up to `options.threads` threads, each over its own chunk of the file: `visit`
// also gets the record's 0-based data row, and runs concurrently for records of different
// chunks (in file order within one). A false return stops that chunk. Returns the data rows.
using CsvRowVisitor = std::function<bool(size_t row, size_t line, const std::vector<std::string>& fields)>;
Result<size_t> ScanCsvRows(const std::string& path, const CsvOptions& options, const CsvRowVisitor& visit);

}  // namespace fedra

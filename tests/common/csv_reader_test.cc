#include "common/csv_reader.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

// Writes a file into `dir`, returning its path.
std::string WriteIn(const TempDir& dir, const std::string& name, const std::string& content) {
  testing::WriteFile(dir / name, content);
  return (dir / name).string();
}

CsvOptions NoHeader() {
  CsvOptions o;
  o.header = false;
  return o;
}

// Options that cut even a small text into many chunks, one thread each.
CsvOptions ManyChunks(CsvOptions o = {}) {
  o.threads = 16;
  o.min_chunk_bytes = 1;
  return o;
}

Matrix Rows(std::initializer_list<std::initializer_list<double>> rows) {
  Matrix m(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.begin()->size()));
  Eigen::Index r = 0;
  for (const auto& row : rows) {
    Eigen::Index c = 0;
    for (double v : row) m(r, c++) = v;
    ++r;
  }
  return m;
}

CsvTable Parse(std::string_view text, const CsvOptions& options = {}) {
  auto result = ParseCsv(text, options);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  return std::move(result).value();
}

Status ParseError(std::string_view text, const CsvOptions& options = {}) {
  auto result = ParseCsv(text, options);
  REQUIRE_FALSE(result.ok());
  return result.status();
}

using Names = std::vector<std::string>;

TEST_CASE("csv: plain numbers without a header") {
  CsvTable t = Parse("1,2,3\n4,5.5,-6e2\n", NoHeader());
  CHECK(t.values == Rows({{1, 2, 3}, {4, 5.5, -600}}));
  CHECK(t.column_names == Names{"c0", "c1", "c2"});
}

TEST_CASE("csv: header names, padding and signs") {
  CsvTable t = Parse(" a , \"b c\",d\n 1 ,\t2\t, +3 \n");
  CHECK(t.column_names == Names{"a", "b c", "d"});
  CHECK(t.values == Rows({{1, 2, 3}}));
}

TEST_CASE("csv: header false keeps the first line as data") {
  CsvTable t = Parse("\n\n7,8\n9,10", NoHeader());
  CHECK(t.values == Rows({{7, 8}, {9, 10}}));
}

TEST_CASE("csv: select by name, by index, reordered and repeated") {
  const std::string text = "id,x,y,label\n1,10,100,cat\n2,20,200,dog\n";
  CsvOptions o;
  o.select = {"y", "0", "x"};
  CsvTable t = Parse(text, o);
  CHECK(t.column_names == Names{"y", "id", "x"});
  CHECK(t.values == Rows({{100, 1, 10}, {200, 2, 20}}));

  o.select = {"x", "x", "1"};
  t = Parse(text, ManyChunks(o));
  CHECK(t.column_names == Names{"x", "x", "x"});
  CHECK(t.values == Rows({{10, 10, 10}, {20, 20, 20}}));

  // A header name made of digits wins over the index it spells.
  t = Parse("5,0\n1,2\n", [] {
    CsvOptions s;
    s.select = {"0"};
    return s;
  }());
  CHECK(t.values == Rows({{2}}));

  // Without a header, generated names work too.
  CsvOptions n = NoHeader();
  n.select = {"c2", "0"};
  t = Parse("1,2,3\n", n);
  CHECK(t.column_names == Names{"c2", "c0"});
  CHECK(t.values == Rows({{3, 1}}));
}

TEST_CASE("csv: quoted fields") {
  const std::string text =
      "\"name, full\",\"v\"\"q\",w\n"
      "\"Smith, \"\"J\"\"\nsecond line\",\"1.5\",\" 2 \"\n"
      "plain,3,\"4\"\n";
  CsvOptions o;
  o.select = {"v\"q", "w"};
  for (const CsvOptions& opt : {o, ManyChunks(o)}) {
    CsvTable t = Parse(text, opt);
    CHECK(t.column_names == Names{"v\"q", "w"});
    CHECK(t.values == Rows({{1.5, 2}, {3, 4}}));
  }
  // Lines inside quoted fields count: the bad cell sits on physical line 5.
  o.select = {"b"};
  Status s = ParseError("a,b\n\"x\ny\",1\n\"z\nw\",bad\n", o);
  CHECK(s.message() == "<text>: line 5, column 2 (\"b\"): cannot parse \"bad\" as a number");
}

TEST_CASE("csv: CRLF line ends") {
  CsvTable t = Parse("a,b\r\n1,2\r\n\r\n3,4\r\n");
  CHECK(t.column_names == Names{"a", "b"});
  CHECK(t.values == Rows({{1, 2}, {3, 4}}));
  Status s = ParseError("a,b\r\n1,2\r\nx,4\r\n");
  CHECK(s.message() == "<text>: line 3, column 1 (\"a\"): cannot parse \"x\" as a number");
}

TEST_CASE("csv: blank lines anywhere are skipped, but counted in line numbers") {
  const std::string text = "\n  \na,b\n1,2\n\n \t \n3,4\n\n\n";
  for (const CsvOptions& o : {CsvOptions{}, ManyChunks()}) {
    CsvTable t = Parse(text, o);
    CHECK(t.values == Rows({{1, 2}, {3, 4}}));
  }
  CHECK(ParseError("\na,b\n\n1,2\n\n3,q\n").message() ==
        "<text>: line 6, column 2 (\"b\"): cannot parse \"q\" as a number");
}

TEST_CASE("csv: UTF-8 BOM") {
  CsvTable t = Parse("\xEF\xBB\xBFprice,qty\n1,2\n");
  CHECK(t.column_names == Names{"price", "qty"});
  CHECK(t.values == Rows({{1, 2}}));
  t = Parse(std::string("\xEF\xBB\xBF") + "1,2\n", NoHeader());
  CHECK(t.values == Rows({{1, 2}}));
}

TEST_CASE("csv: nan, inf and out-of-range values") {
  CsvTable t = Parse("nan,inf,-inf,1e400,-1e400,1e-400\n", NoHeader());
  CHECK(std::isnan(t.values(0, 0)));
  CHECK(t.values(0, 1) == std::numeric_limits<double>::infinity());
  CHECK(t.values(0, 2) == -std::numeric_limits<double>::infinity());
  CHECK(t.values(0, 3) == std::numeric_limits<double>::infinity());
  CHECK(t.values(0, 4) == -std::numeric_limits<double>::infinity());
  CHECK(t.values(0, 5) == 0.0);
}

TEST_CASE("csv: a final line without a newline, a tab delimiter") {
  CHECK(Parse("a\n1\n2", {}).values == Rows({{1}, {2}}));
  CsvOptions tab;
  tab.delimiter = '\t';
  CsvTable t = Parse("a\tb\n 1\t2 \n", tab);
  CHECK(t.column_names == Names{"a", "b"});
  CHECK(t.values == Rows({{1, 2}}));
}

TEST_CASE("csv: bad cells name line and column") {
  CsvOptions o;
  o.source_name = "data.csv";
  Status s = ParseError("id,qty,price\n1,2,3\n\n4,5,abc\n", o);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message() == "data.csv: line 4, column 3 (\"price\"): cannot parse \"abc\" as a number");

  s = ParseError("1,2\n3,4x\n", NoHeader());
  CHECK(s.message() == "<text>: line 2, column 2: cannot parse \"4x\" as a number");

  s = ParseError("a,x\n1,2\n3,4\n5, \n", o);
  CHECK(s.message() == "data.csv: line 4, column 2 (\"x\"): empty cell");
  s = ParseError("a,x\n1,\"\"\n", o);
  CHECK(s.message() == "data.csv: line 2, column 2 (\"x\"): empty cell");

  s = ParseError("a,x\n1,2\n3,\"4\n", o);
  CHECK(s.message() == "data.csv: line 3, column 2 (\"x\"): unterminated quoted field");
  s = ParseError("a,x\n1,\"2\"\"3\"\n", o);  // the message shows the cell unquoted
  CHECK(s.message() == "data.csv: line 2, column 2 (\"x\"): cannot parse \"2\"3\" as a number");
  s = ParseError("a,x\n1,\"2\"z\n", o);
  CHECK(s.message() == "data.csv: line 2, column 2 (\"x\"): unexpected character after closing quote");
  // Only selected columns are parsed.
  o.select = {"a"};
  CHECK(Parse("a,x\n1,abc\n", o).values == Rows({{1}}));
}

TEST_CASE("csv: ragged rows") {
  CsvOptions o;
  o.source_name = "data.csv";
  Status s = ParseError("a,b,c,d\n1,2,3,4\n\n1,2,3\n", o);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message() == "data.csv: line 4: expected 4 fields, found 3");
  s = ParseError("a,b\n1,2,3\n", o);
  CHECK(s.message() == "data.csv: line 2: expected 2 fields, found 3");
}

TEST_CASE("csv: unknown or out-of-range selected columns") {
  CsvOptions o;
  o.source_name = "data.csv";
  o.select = {"a", "nope"};
  Status s = ParseError("a,b,c\n1,2,3\n", o);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "data.csv: unknown column \"nope\"; available columns: \"a\", \"b\", \"c\"");

  std::string wide_header;
  for (int i = 0; i < 25; ++i) wide_header += (i ? ",h" : "h") + std::to_string(i);
  o.select = {"zz"};
  s = ParseError(wide_header + "\n", o);
  CHECK(s.message().find("\"h9\", ... (15 more)") != std::string::npos);
  CHECK(s.message().find("\"h10\"") == std::string::npos);

  o.select = {"3"};
  s = ParseError("a,b,c\n1,2,3\n", o);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "data.csv: column index 3 is out of range (3 columns)");
}

TEST_CASE("csv: empty and header-only inputs give 0 rows") {
  CsvTable t = Parse("");
  CHECK(t.values.rows() == 0);
  CHECK(t.values.cols() == 0);
  t = Parse("\n \n", NoHeader());
  CHECK(t.values.size() == 0);
  t = Parse("a,b,c\n\n");
  CHECK(t.values.rows() == 0);
  CHECK(t.values.cols() == 3);
  CHECK(t.column_names == Names{"a", "b", "c"});
}

TEST_CASE("csv: admit sees the shape before allocation and can refuse") {
  size_t seen_rows = 0, seen_cols = 0;
  CsvOptions o;
  o.select = {"b"};
  o.admit = [&](size_t rows, size_t cols) {
    seen_rows = rows;
    seen_cols = cols;
    return ResourceExhausted("over the memory budget");
  };
  Status s = ParseError("a,b\n1,2\n\n3,x\n5,6\n", o);
  CHECK(s.code() == StatusCode::kResourceExhausted);
  CHECK(s.message() == "over the memory budget");  // refused before "x" was parsed
  CHECK(seen_rows == 3);
  CHECK(seen_cols == 1);

  o.admit = [](size_t, size_t) { return Status::Ok(); };
  CHECK(Parse("a,b\n1,2\n", o).values == Rows({{2}}));
}

TEST_CASE("csv: progress reaches the total and is not called too often") {
  std::string text = "a,b\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",1\n";
  std::atomic<int> calls{0};
  std::atomic<size_t> last_done{0};
  CsvOptions o;
  o.threads = 4;
  o.min_chunk_bytes = 1000;
  o.progress = [&](size_t done, size_t total) {
    CHECK(total == text.size());
    CHECK(done <= total);
    ++calls;
    last_done = done;
  };
  Parse(text, o);
  CHECK(calls >= 2);
  CHECK(calls <= 21);
  CHECK(last_done == text.size());
}

TEST_CASE("csv: wide file") {
  constexpr int kCols = 5000, kRows = 30;
  std::string text;
  for (int c = 0; c < kCols; ++c) text += (c ? ",v" : "v") + std::to_string(c);
  text += '\n';
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) text += (c ? "," : "") + std::to_string(r * kCols + c);
    text += '\n';
  }
  CsvTable t = Parse(text, ManyChunks());
  REQUIRE(t.values.rows() == kRows);
  REQUIRE(t.values.cols() == kCols);
  CHECK(t.column_names[4999] == "v4999");
  bool all = true;
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) all = all && t.values(r, c) == r * kCols + c;
  }
  CHECK(all);
}

TEST_CASE("csv: full-precision values read back exactly; thread counts agree") {
  TempDir dir;
  constexpr int kRows = 20000, kCols = 7;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1e3);
  Matrix expect(kRows, kCols);
  std::string text = "a,b,c,d,e,f,g\n";
  char buf[64];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      double v = normal(rng) * std::pow(10.0, static_cast<int>(rng() % 40) - 20);
      expect(r, c) = v;
      std::snprintf(buf, sizeof buf, "%s%.17g", c ? "," : "", v);
      text += buf;
    }
    text += '\n';
  }
  const std::string path = WriteIn(dir, "exact.csv", text);
  CsvOptions one;
  one.threads = 1;
  CsvOptions four;
  four.threads = 4;
  four.min_chunk_bytes = 4096;
  auto a = ReadCsvFile(path, one);
  auto b = ReadCsvFile(path, four);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->values == expect);
  CHECK(b->values == expect);
}

// Random texts mixing every dialect feature: the many-chunk parse must match the one-chunk parse
// and the values that were written.
TEST_CASE("csv: random dialect mix, one chunk vs many") {
  std::mt19937 rng(11);
  for (int round = 0; round < 30; ++round) {
    const int cols = 1 + static_cast<int>(rng() % 5);
    const int rows = static_cast<int>(rng() % 200);
    std::string text;
    for (int c = 0; c < cols; ++c) text += (c ? ",\"h" : "\"h") + std::to_string(c) + "\"";
    text += "\n";
    Matrix expect(rows, cols + 0);
    for (int r = 0; r < rows; ++r) {
      if (rng() % 5 == 0) text += (rng() % 2) ? "\n" : " \t\r\n";
      for (int c = 0; c < cols; ++c) {
        const double v = static_cast<int>(rng() % 20001) - 10000 + 0.25;
        expect(r, c) = v;
        if (c) text += ',';
        static const char* const kForms[] = {"%s", "\"%s\"", "  %s\t", " \" %s \" "};
        char cell[64];
        std::snprintf(cell, sizeof cell, kForms[rng() % 4], std::to_string(v).c_str());
        text += cell;
      }
      text += (rng() % 3 == 0) ? "\r\n" : "\n";
    }
    CsvOptions one;
    one.threads = 1;
    CsvTable a = Parse(text, one);
    CsvTable b = Parse(text, ManyChunks());
    CHECK(a.values == expect);
    CHECK(b.values == expect);
  }
}

// A text column full of quoted delimiters, newlines and doubled quotes: the chunk cuts must land
// outside the quotes.
TEST_CASE("csv: quote-aware chunk cuts") {
  std::string text = "note,x\n";
  Matrix expect(500, 1);
  for (int r = 0; r < 500; ++r) {
    text += (r % 3 == 0) ? "\"a,\n\"\"b\"\"\n,c\"" : (r % 3 == 1) ? "plain" : "\"\n\n\"";
    text += "," + std::to_string(r) + "\n";
    expect(r, 0) = r;
  }
  CsvOptions o;
  o.select = {"x"};
  CHECK(Parse(text, ManyChunks(o)).values == expect);
  CHECK(Parse(text, o).values == expect);
}

// Writes a multi-megabyte file whose chunks are cut by ReadCsvFile with 4 threads; bad cells are
// placed at given fractions of the rows. Returns the path and fills the expected physical line of
// each bad cell, counted while writing.
std::string WriteBigFile(const TempDir& dir, bool with_quotes, std::vector<double> bad_at,
                         std::vector<size_t>* bad_lines) {
  constexpr int kRows = 60000;
  std::string text = with_quotes ? "\n\"id\",a,b,price\n" : "\nid,a,b,price\n";
  size_t line = 3;  // the line the next row starts on
  size_t next_bad = 0;
  for (int r = 0; r < kRows; ++r) {
    if (r % 97 == 0) {
      text += "\n";
      ++line;
    }
    // Every 50th row of the quoted file spans two lines: "b" holds a quoted newline.
    const bool two_lines = with_quotes && r % 50 == 0;
    std::string b = two_lines ? "\"note,\n\"\"" + std::to_string(r) + "\"\"\"" : "text";
    std::string price = std::to_string(r * 0.5);
    if (next_bad < bad_at.size() && r == static_cast<int>(bad_at[next_bad] * kRows)) {
      price = "12.5.3";
      bad_lines->push_back(line + (two_lines ? 1 : 0));  // the line the bad cell is on
      ++next_bad;
    }
    text += std::to_string(r) + "," + std::to_string(r * 3) + "," + b + "," + price + "\r\n";
    line += two_lines ? 2 : 1;
  }
  return WriteIn(dir, with_quotes ? "big_quoted.csv" : "big.csv", text);
}

TEST_CASE("csv: bad cell in the last chunk of a parallel parse") {
  TempDir dir;
  for (bool quotes : {false, true}) {
    CAPTURE(quotes);
    std::vector<size_t> lines;
    const std::string path = WriteBigFile(dir, quotes, {0.97}, &lines);
    REQUIRE(fs::file_size(path) > 4 * CsvOptions{}.min_chunk_bytes);
    CsvOptions o;
    o.threads = 4;
    o.select = {"price", "a"};
    auto result = ReadCsvFile(path, o);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kDataLoss);
    CHECK(result.status().message() ==
          path + ": line " + std::to_string(lines[0]) + ", column 4 (\"price\"): cannot parse \"12.5.3\" as a number");
  }
}

TEST_CASE("csv: the earliest of several bad cells is reported") {
  TempDir dir;
  std::vector<size_t> lines;
  const std::string path = WriteBigFile(dir, false, {0.3, 0.6, 0.9}, &lines);
  CsvOptions o;
  o.threads = 4;
  o.select = {"id", "price"};
  auto result = ReadCsvFile(path, o);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().message().find(": line " + std::to_string(lines[0]) + ",") != std::string::npos);
}

TEST_CASE("csv: large file parsed in parallel matches one thread") {
  TempDir dir;
  std::vector<size_t> none;
  const std::string path = WriteBigFile(dir, true, {}, &none);
  CsvOptions one;
  one.threads = 1;
  one.select = {"id", "a", "price"};
  CsvOptions four = one;
  four.threads = 4;
  auto a = ReadCsvFile(path, one);
  auto b = ReadCsvFile(path, four);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->values.rows() == 60000);
  CHECK(a->values(59999, 1) == 59999 * 3);
  CHECK(a->values(59999, 2) == 59999 * 0.5);
  CHECK(a->values == b->values);
  CHECK(a->column_names == Names{"id", "a", "price"});
}

TEST_CASE("csv: a parallel scan visits every record once, with its row and line") {
  TempDir dir;
  // Quoted newlines, blank lines and a text column, over many small chunks.
  std::string text = "id,note\n";
  for (int i = 0; i < 3000; ++i) {
    text += std::to_string(i) + (i % 7 == 0 ? ",\"two\nlines\"\n" : ",plain\n");
    if (i % 11 == 0) text += "\n";
  }
  const std::string path = WriteIn(dir, "s.csv", text);
  CsvOptions o = ManyChunks();
  o.threads = 4;
  std::vector<std::atomic<size_t>> lines(3000);
  std::atomic<size_t> wrong{0};
  Result<size_t> rows = ScanCsvRows(path, o, [&](size_t row, size_t line, const std::vector<std::string>& f) {
    if (row >= lines.size() || f.size() != 2 || f[0] != std::to_string(row) || lines[row].exchange(line) != 0) ++wrong;
    return true;
  });
  REQUIRE_MESSAGE(rows.ok(), rows.status().ToString());
  CHECK(*rows == 3000);
  CHECK(wrong == 0);
  // Lines as ScanCsvFile counts them, in one pass in file order.
  size_t mismatched = 0, seen = 0;
  REQUIRE(ScanCsvFile(path, o, [&](size_t line, const std::vector<std::string>&) {
            mismatched += lines[seen++] != line;
            return true;
          }).ok());
  CHECK(seen == 3000);
  CHECK(mismatched == 0);
  CHECK(lines[1] == 5);  // after the header, record 0 (two lines) and a blank line
}

TEST_CASE("csv: files: probe, missing file") {
  TempDir dir;
  const std::string bom = "\xEF\xBB\xBF";
  const std::string path = WriteIn(dir, "p.csv", bom + "x,\"y\",z\n1,\"2\n\",3\n\n4,5,6\n7,8,9");
  auto shape = ProbeCsvFile(path, {});
  REQUIRE(shape.ok());
  CHECK(shape->rows == 3);
  CHECK(shape->column_names == Names{"x", "y", "z"});

  CsvOptions o = ManyChunks();
  o.select = {"z", "x"};
  shape = ProbeCsvFile(path, o);
  REQUIRE(shape.ok());
  CHECK(shape->rows == 3);
  CHECK(shape->column_names == Names{"z", "x"});

  o.header = false;
  o.select = {};
  shape = ProbeCsvFile(path, o);
  REQUIRE(shape.ok());
  CHECK(shape->rows == 4);
  CHECK(shape->column_names == Names{"c0", "c1", "c2"});

  CHECK(ProbeCsvFile(WriteIn(dir, "e.csv", ""), {})->rows == 0);

  auto missing = ReadCsvFile((fs::temp_directory_path() / "fedra_no_such_file.csv").string(), {});
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(ProbeCsvFile("/nonexistent/dir/x.csv", {}).status().code() == StatusCode::kNotFound);

  auto empty = ReadCsvFile(WriteIn(dir, "h.csv", "a,b\n"), {});
  REQUIRE(empty.ok());
  CHECK(empty->values.rows() == 0);
  CHECK(empty->values.cols() == 2);
}

TEST_CASE("csv: bad options") {
  CsvOptions o;
  o.delimiter = '"';
  CHECK(ParseError("a\n1\n", o).code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedra

// A thin RAII layer over SQLite: a connection, prepared statements with typed binds and
// columns, and every failure as a Status that names the statement and SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace fedra::sqlite {

class Statement;

class Connection {
 public:
  // Opens (creating when `create`) the database file, with a busy timeout and foreign keys on.
  static Result<Connection> Open(const std::string& path, bool create, bool read_only);

  sqlite3* get() const { return db_.get(); }
  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

class Statement {
 public:
  Statement& Bind(int index, int64_t v);
  Statement& Bind(int index, double v);
  Statement& Bind(int index, std::string_view v);
  Statement& BindBlob(int index, std::span<const uint8_t> v);
  Statement& BindNull(int index);

  // Steps once: true with a row to read, false when done.
  Result<bool> Step();
  // Steps to the end, for statements that return no rows.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  double Double(int column) const { return sqlite3_column_double(stmt_.get(), column); }
  std::string Text(int column) const;
  std::span<const uint8_t> Blob(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

 private:
  friend class Connection;
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Status Error(std::string_view what) const;

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  Status bind_status_;
};

}  // namespace fedra::sqlite

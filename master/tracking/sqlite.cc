#include "master/tracking/sqlite.h"

namespace fedra::sqlite {
namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = std::string(what) + ": " + sqlite3_errmsg(db);
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) return Unavailable(std::move(message));
  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
    return AlreadyExists(std::move(message));
  if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) return DataLoss(std::move(message));
  return Internal(std::move(message));
}

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

Result<Connection> Connection::Open(const std::string& path, bool create, bool read_only) {
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection c;
  c.db_.reset(raw);
  if (rc != SQLITE_OK) {
    return raw ? SqliteError(raw, "opening " + path) : Internal("opening " + path + ": out of memory");
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  sqlite3_extended_result_codes(raw, 1);
  FEDRA_RETURN_IF_ERROR(c.Exec("PRAGMA foreign_keys = ON").WithContext(path));
  return c;
}

Status Connection::Exec(std::string_view sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), std::string(sql).c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  sqlite3_free(error);
  return SqliteError(db_.get(), std::string(sql.substr(0, 60)));
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_.get(), "preparing " + std::string(sql.substr(0, 60)));
  return Statement(db_.get(), stmt);
}

Status Statement::Error(std::string_view what) const {
  return SqliteError(db_, std::string(what) + " " + std::string(sqlite3_sql(stmt_.get())).substr(0, 60));
}

Statement& Statement::Bind(int index, int64_t v) {
  if (sqlite3_bind_int64(stmt_.get(), index, v) != SQLITE_OK && bind_status_.ok()) bind_status_ = Error("binding");
  return *this;
}

Statement& Statement::Bind(int index, double v) {
  if (sqlite3_bind_double(stmt_.get(), index, v) != SQLITE_OK && bind_status_.ok()) bind_status_ = Error("binding");
  return *this;
}

Statement& Statement::Bind(int index, std::string_view v) {
  if (sqlite3_bind_text64(stmt_.get(), index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK &&
      bind_status_.ok()) {
    bind_status_ = Error("binding");
  }
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> v) {
  // An empty span may have no data pointer, which SQLite would bind as NULL rather than as an
  // empty blob.
  static constexpr uint8_t kEmpty = 0;
  const void* data = v.empty() ? &kEmpty : v.data();
  if (sqlite3_bind_blob64(stmt_.get(), index, data, v.size(), SQLITE_TRANSIENT) != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = Error("binding");
  }
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (sqlite3_bind_null(stmt_.get(), index) != SQLITE_OK && bind_status_.ok()) bind_status_ = Error("binding");
  return *this;
}

Result<bool> Statement::Step() {
  FEDRA_RETURN_IF_ERROR(bind_status_);
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error("running");
}

Status Statement::Run() {
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_status_ = Status::Ok();
}

std::string Statement::Text(int column) const {
  const auto* p = sqlite3_column_text(stmt_.get(), column);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)))
           : std::string();
}

std::span<const uint8_t> Statement::Blob(int column) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_.get(), column));
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column))};
}

}  // namespace fedra::sqlite

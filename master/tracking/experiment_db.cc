#include "master/tracking/experiment_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>

#include "common/logging.h"

namespace fedra {
namespace {

// Each entry moves the schema from version i to i + 1. Append only: a released file may be at
// any earlier version.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'finished', 'failed', 'cancelled')),
  algorithm TEXT NOT NULL,
  dataset TEXT NOT NULL,
  spec TEXT NOT NULL,
  result TEXT,
  error TEXT NOT NULL DEFAULT '',
  submitted_by TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL,
  started_at REAL,
  ended_at REAL
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, id);
CREATE TABLE jobs (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id),
  submitted_at REAL NOT NULL,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE params (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL NOT NULL,
  time REAL NOT NULL
);
CREATE INDEX metrics_by_key ON metrics (run_id, key, step);
CREATE TABLE latest_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL NOT NULL,
  time REAL NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE models (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  shapes TEXT NOT NULL,
  bytes BLOB NOT NULL,
  created_at REAL NOT NULL,
  PRIMARY KEY (run_id, name, version)
);
CREATE TABLE sites (
  name TEXT PRIMARY KEY,
  online INTEGER NOT NULL,
  last_seen REAL,
  datasets TEXT NOT NULL,
  gpu INTEGER NOT NULL
);
)sql",
    // Training checkpoints: the latest of each run (master/ps/checkpoint.h).
    R"sql(
CREATE TABLE checkpoints (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id),
  round INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  saved_at REAL NOT NULL
);
)sql",
    // Runs' tags (MLflow's set-tag): free-form labels, unlike params, which never change.
    R"sql(
CREATE TABLE tags (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
)sql",
};

nlohmann::json ParseStored(const std::string& text) {
  if (text.empty()) return nullptr;
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string ParamText(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Status RequireRun(sqlite::Connection& c, int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement exists, c.Prepare("SELECT 1 FROM runs WHERE id = ?1"));
  FEDRA_ASSIGN_OR_RETURN(bool found, exists.Bind(1, run).Step());
  return found ? Status::Ok() : NotFound("no run " + std::to_string(run));
}

Status PutTags(sqlite::Connection& c, int64_t run, const std::map<std::string, std::string>& tags) {
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         c.Prepare("INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) "
                                   "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"));
  for (const auto& [key, value] : tags) {
    FEDRA_RETURN_IF_ERROR(s.Bind(1, run).Bind(2, key).Bind(3, value).Run());
    s.Reset();
  }
  return Status::Ok();
}

}  // namespace

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string_view RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kScheduled: return "scheduled";
    case RunStatus::kRunning: return "running";
    case RunStatus::kFinished: return "finished";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kCancelled: return "cancelled";
  }
  return "unknown";
}

int ExperimentDb::SchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

class ExperimentDb::Reader {
 public:
  Reader(ExperimentDb* db, sqlite::Connection c) : db_(db), c_(std::move(c)) {}
  Reader(Reader&& other) noexcept : db_(std::exchange(other.db_, nullptr)), c_(std::move(other.c_)) {}
  ~Reader() {
    if (!db_) return;
    std::lock_guard lock(db_->pool_mu_);
    db_->pool_.push_back(std::move(c_));
  }
  sqlite::Connection& operator*() { return c_; }
  sqlite::Connection* operator->() { return &c_; }

 private:
  ExperimentDb* db_;
  sqlite::Connection c_;
};

Result<std::unique_ptr<ExperimentDb>> ExperimentDb::Open(const std::filesystem::path& path, LeftActive left_active) {
  std::unique_ptr<ExperimentDb> db(new ExperimentDb(path));
  const std::string where = "experiment database " + path.string();
  // Every process using the file holds a shared lock on FILE.lock; only one that finds no other
  // (an exclusive lock succeeds) may fail the runs left active, which then have no process.
  db->lock_fd_ = ::open((path.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (db->lock_fd_ < 0) return Unavailable(where + ": cannot open its lock file: " + std::strerror(errno));
  const bool alone = ::flock(db->lock_fd_, LOCK_EX | LOCK_NB) == 0;
  if (!alone && ::flock(db->lock_fd_, LOCK_SH) != 0)
    return Unavailable(where + ": cannot lock: " + std::strerror(errno));
  FEDRA_ASSIGN_OR_RETURN(db->writer_, sqlite::Connection::Open(path.string(), true, false));
  ::chmod(path.c_str(), 0600);  // tokens' owners and job specs live here
  // WAL: readers never block the writer; NORMAL sync loses nothing committed when the process
  // dies (only a power cut can cost the last commits).
  FEDRA_RETURN_IF_ERROR(db->writer_.Exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL").WithContext(where));
  FEDRA_RETURN_IF_ERROR(db->Migrate().WithContext(where));
  db->alone_ = alone;
  if (alone && left_active == LeftActive::kFail) {
    FEDRA_RETURN_IF_ERROR(db->writer_
                              .Exec("UPDATE runs SET status = 'failed', ended_at = " + std::to_string(UnixSeconds()) +
                                    ", error = 'the master stopped while this run was active' "
                                    "WHERE status IN ('scheduled', 'running')")
                              .WithContext(where));
    if (const int stale = db->writer_.changes(); stale > 0) {
      FEDRA_LOG(kWarn) << where << ": marked " << stale << " run(s) failed that a stopped master left active";
    }
  }
  if (alone) ::flock(db->lock_fd_, LOCK_SH);  // from now on others may share the file
  db->writer_thread_ = std::thread([d = db.get()] { d->WriterLoop(); });
  return db;
}

ExperimentDb::~ExperimentDb() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status ExperimentDb::Migrate() {
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement version, writer_.Prepare("PRAGMA user_version"));
  FEDRA_ASSIGN_OR_RETURN(bool row, version.Step());
  const int64_t current = row ? version.Int(0) : 0;
  if (current > SchemaVersion()) {
    return FailedPrecondition("schema version " + std::to_string(current) + " is newer than this build's " +
                              std::to_string(SchemaVersion()) + "; use a newer fedra-master");
  }
  for (int64_t v = current; v < SchemaVersion(); ++v) {
    FEDRA_RETURN_IF_ERROR(writer_.Exec("BEGIN IMMEDIATE"));
    Status s = writer_.Exec(kMigrations[v]);
    if (s.ok()) s = writer_.Exec("PRAGMA user_version = " + std::to_string(v + 1));
    if (!s.ok()) {
      (void)writer_.Exec("ROLLBACK");
      return s.WithContext("migrating to schema version " + std::to_string(v + 1));
    }
    FEDRA_RETURN_IF_ERROR(writer_.Exec("COMMIT"));
  }
  return Status::Ok();
}

Result<std::future<Status>> ExperimentDb::Enqueue(Write write) {
  std::future<Status> done;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return Unavailable("the experiment database is closing");
    queue_.push_back(Pending{std::move(write), {}});
    done = queue_.back().done.get_future();
  }
  queue_cv_.notify_one();
  return done;
}

Status ExperimentDb::Submit(Write write) {
  FEDRA_ASSIGN_OR_RETURN(std::future<Status> done, Enqueue(std::move(write)));
  return done.get();
}

void ExperimentDb::WriterLoop() {
  for (;;) {
    std::deque<Pending> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      batch.swap(queue_);
    }
    std::vector<Status> results;
    Status begun = writer_.Exec("BEGIN IMMEDIATE");
    for (Pending& p : batch) {
      if (!begun.ok()) {
        results.push_back(begun);
        continue;
      }
      Status s = writer_.Exec("SAVEPOINT one_write");
      if (s.ok()) {
        try {
          s = p.write(writer_);
        } catch (const std::exception& e) {  // bad_alloc, json errors: fail this write only
          s = Internal(std::string("experiment database write: ") + e.what());
        }
        (void)writer_.Exec(s.ok() ? "RELEASE one_write" : "ROLLBACK TO one_write; RELEASE one_write");
      }
      results.push_back(s);
      // Some errors (disk full, I/O) make SQLite roll back the whole transaction, not just the
      // savepoint: the batch's earlier writes are gone too, so they fail with this error, and
      // the rest of the batch starts a new transaction.
      if (!s.ok() && sqlite3_get_autocommit(writer_.get())) {
        for (Status& earlier : results) {
          if (earlier.ok()) earlier = s.WithContext("rolled back with a later write");
        }
        begun = writer_.Exec("BEGIN IMMEDIATE");
      }
    }
    if (begun.ok()) {
      if (Status committed = writer_.Exec("COMMIT"); !committed.ok()) {
        (void)writer_.Exec("ROLLBACK");
        for (Status& s : results) {
          if (s.ok()) s = committed;
        }
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(results[i]);
  }
}

Result<ExperimentDb::Reader> ExperimentDb::Borrow() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      sqlite::Connection c = std::move(pool_.back());
      pool_.pop_back();
      return Reader(this, std::move(c));
    }
  }
  FEDRA_ASSIGN_OR_RETURN(sqlite::Connection c, sqlite::Connection::Open(path_.string(), false, false));
  FEDRA_RETURN_IF_ERROR(c.Exec("PRAGMA query_only = 1"));
  return Reader(this, std::move(c));
}

// ---- writes

Result<int64_t> ExperimentDb::CreateRun(const NewRun& run) {
  int64_t id = 0;
  FEDRA_RETURN_IF_ERROR(Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement exp,
                           c.Prepare("INSERT INTO experiments (name, created_at) VALUES (?1, ?2) "
                                     "ON CONFLICT (name) DO UPDATE SET name = name RETURNING id"));
    FEDRA_ASSIGN_OR_RETURN(bool row, exp.Bind(1, run.experiment).Bind(2, UnixSeconds()).Step());
    if (!row) return Internal("experiment insert returned no id");
    const int64_t experiment = exp.Int(0);
    FEDRA_RETURN_IF_ERROR(exp.Run());
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        c.Prepare("INSERT INTO runs (experiment_id, name, status, algorithm, dataset, spec, submitted_by, created_at, "
                  "started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    const double now = UnixSeconds();
    insert.Bind(1, experiment)
        .Bind(2, run.name)
        .Bind(3, RunStatusName(run.status))
        .Bind(4, run.algorithm)
        .Bind(5, run.dataset)
        .Bind(6, run.spec.dump())
        .Bind(7, run.submitted_by)
        .Bind(8, now);
    if (run.status == RunStatus::kRunning) {
      insert.Bind(9, now);
    } else {
      insert.BindNull(9);
    }
    FEDRA_RETURN_IF_ERROR(insert.Run());
    id = c.last_insert_id();
    if (run.job) {
      FEDRA_ASSIGN_OR_RETURN(sqlite::Statement job,
                             c.Prepare("INSERT INTO jobs (run_id, submitted_at) VALUES (?1, ?2)"));
      FEDRA_RETURN_IF_ERROR(job.Bind(1, id).Bind(2, now).Run());
    }
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement param,
                           c.Prepare("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)"));
    for (const auto& [key, value] : run.params.items()) {
      FEDRA_RETURN_IF_ERROR(param.Bind(1, id).Bind(2, key).Bind(3, ParamText(value)).Run());
      param.Reset();
    }
    return PutTags(c, id, run.tags);
  }));
  return id;
}

Result<int64_t> ExperimentDb::CreateExperiment(const std::string& name) {
  int64_t id = 0;
  FEDRA_RETURN_IF_ERROR(Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s, c.Prepare("INSERT INTO experiments (name, created_at) VALUES (?1, ?2) "
                                                          "ON CONFLICT (name) DO NOTHING RETURNING id"));
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Bind(1, name).Bind(2, UnixSeconds()).Step());
    if (!row) return AlreadyExists("experiment '" + name + "' already exists");
    id = s.Int(0);
    return s.Run();
  }));
  return id;
}

Status ExperimentDb::LogParams(int64_t run, const std::map<std::string, std::string>& params) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_RETURN_IF_ERROR(RequireRun(c, run));
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement get, c.Prepare("SELECT value FROM params WHERE run_id = ?1 AND key = ?2"));
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement put,
                           c.Prepare("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)"));
    for (const auto& [key, value] : params) {
      FEDRA_ASSIGN_OR_RETURN(bool logged, get.Bind(1, run).Bind(2, key).Step());
      if (logged && get.Text(0) != value) {
        return InvalidArgument("param '" + key + "' of run " + std::to_string(run) + " was logged as '" + get.Text(0) +
                               "'; a run's params do not change (log the new value in a new run)");
      }
      get.Reset();
      if (logged) continue;
      FEDRA_RETURN_IF_ERROR(put.Bind(1, run).Bind(2, key).Bind(3, value).Run());
      put.Reset();
    }
    return Status::Ok();
  });
}

Status ExperimentDb::SetTags(int64_t run, const std::map<std::string, std::string>& tags) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_RETURN_IF_ERROR(RequireRun(c, run));
    return PutTags(c, run, tags);
  });
}

void ExperimentDb::SetTagsLater(int64_t run, std::map<std::string, std::string> tags) {
  Result<std::future<Status>> queued = Enqueue([run, tags = std::move(tags)](sqlite::Connection& c) -> Status {
    Status s = RequireRun(c, run);
    if (s.ok()) s = PutTags(c, run, tags);
    if (!s.ok()) FEDRA_LOG(kWarn) << "tagging run " << run << ": " << s.message();
    return s;
  });
  if (!queued.ok()) FEDRA_LOG(kWarn) << "tagging run " << run << ": " << queued.status().message();
}

Status ExperimentDb::RenameRun(int64_t run, const std::string& name) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s, c.Prepare("UPDATE runs SET name = ?2 WHERE id = ?1"));
    FEDRA_RETURN_IF_ERROR(s.Bind(1, run).Bind(2, name).Run());
    if (c.changes() == 0) return NotFound("no run " + std::to_string(run));
    return Status::Ok();
  });
}

Status ExperimentDb::SetRunStatus(int64_t run, RunStatus status, const nlohmann::json& result,
                                  const std::string& error) {
  return Submit([&](sqlite::Connection& c) -> Status {
    const bool ended =
        status == RunStatus::kFinished || status == RunStatus::kFailed || status == RunStatus::kCancelled;
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement s,
        c.Prepare("UPDATE runs SET status = ?2, result = coalesce(?3, result), error = ?4, "
                  "started_at = CASE WHEN ?2 = 'running' THEN coalesce(started_at, ?5) ELSE started_at END, "
                  "ended_at = CASE WHEN ?6 THEN ?5 ELSE ended_at END WHERE id = ?1"));
    s.Bind(1, run).Bind(2, RunStatusName(status)).Bind(4, error).Bind(5, UnixSeconds()).Bind(6, int64_t{ended});
    if (result.is_null()) {
      s.BindNull(3);
    } else {
      s.Bind(3, result.dump());
    }
    FEDRA_RETURN_IF_ERROR(s.Run());
    if (c.changes() == 0) return NotFound("no run " + std::to_string(run));
    return Status::Ok();
  });
}

Status ExperimentDb::LogMetrics(int64_t run, std::vector<MetricPoint> points) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_RETURN_IF_ERROR(RequireRun(c, run));
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement insert,
        c.Prepare("INSERT INTO metrics (run_id, key, step, value, time) VALUES (?1, ?2, ?3, ?4, ?5)"));
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement latest,
        c.Prepare("INSERT INTO latest_metrics (run_id, key, step, value, time) VALUES (?1, ?2, ?3, ?4, ?5) "
                  "ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, value = excluded.value, "
                  "time = excluded.time WHERE excluded.step >= latest_metrics.step"));
    for (const MetricPoint& p : points) {
      for (sqlite::Statement* s : {&insert, &latest}) {
        FEDRA_RETURN_IF_ERROR(s->Bind(1, run).Bind(2, p.key).Bind(3, p.step).Bind(4, p.value).Bind(5, p.time).Run());
        s->Reset();
      }
    }
    return Status::Ok();
  });
}

Result<int64_t> ExperimentDb::SaveModel(int64_t run, const std::string& name, const nlohmann::json& shapes,
                                        std::vector<uint8_t> bytes) {
  int64_t version = 0;
  FEDRA_RETURN_IF_ERROR(Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement s,
        c.Prepare(
            "INSERT INTO models (run_id, name, version, shapes, bytes, created_at) "
            "SELECT ?1, ?2, coalesce(max(version), 0) + 1, ?3, ?4, ?5 FROM models WHERE run_id = ?1 AND name = ?2 "
            "RETURNING version"));
    FEDRA_ASSIGN_OR_RETURN(
        bool row, s.Bind(1, run).Bind(2, name).Bind(3, shapes.dump()).BindBlob(4, bytes).Bind(5, UnixSeconds()).Step());
    if (!row) return Internal("model insert returned no version");
    version = s.Int(0);
    return s.Run();
  }));
  return version;
}

Status ExperimentDb::SaveCheckpoint(int64_t run, int64_t round, std::vector<uint8_t> bytes) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                           c.Prepare("INSERT OR REPLACE INTO checkpoints (run_id, round, bytes, saved_at) "
                                     "VALUES (?1, ?2, ?3, ?4)"));
    return s.Bind(1, run).Bind(2, round).BindBlob(3, bytes).Bind(4, UnixSeconds()).Run();
  });
}

Result<std::optional<std::vector<uint8_t>>> ExperimentDb::LoadCheckpoint(int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s, r->Prepare("SELECT bytes FROM checkpoints WHERE run_id = ?1"));
  FEDRA_ASSIGN_OR_RETURN(bool found, s.Bind(1, run).Step());
  if (!found) return std::optional<std::vector<uint8_t>>();
  const auto bytes = s.Blob(0);
  return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Result<std::vector<ActiveJob>> ExperimentDb::ListActiveJobs() {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         r->Prepare("SELECT r.id, r.status, r.spec, e.name FROM runs r JOIN jobs j ON j.run_id = r.id "
                                    "JOIN experiments e ON e.id = r.experiment_id "
                                    "WHERE r.status IN ('scheduled', 'running') ORDER BY r.id"));
  std::vector<ActiveJob> out;
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(ActiveJob{s.Int(0), s.Text(1) == "running", ParseStored(s.Text(2)), s.Text(3)});
  }
}

Status ExperimentDb::RequestCancel(int64_t run) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement get,
        c.Prepare("SELECT r.status, j.run_id IS NOT NULL FROM runs r LEFT JOIN jobs j ON j.run_id = r.id "
                  "WHERE r.id = ?1"));
    FEDRA_ASSIGN_OR_RETURN(bool found, get.Bind(1, run).Step());
    if (!found) return NotFound("no run " + std::to_string(run));
    if (get.Int(1) == 0) return NotFound("run " + std::to_string(run) + " is not a job: it is tracked from outside");
    const std::string status = get.Text(0);
    if (status != "scheduled" && status != "running") {
      return FailedPrecondition("run " + std::to_string(run) + " has already ended (" + status + ")");
    }
    FEDRA_ASSIGN_OR_RETURN(sqlite::Statement set, c.Prepare("UPDATE jobs SET cancel_requested = 1 WHERE run_id = ?1"));
    return set.Bind(1, run).Run();
  });
}

Status ExperimentDb::RecordSite(const std::string& name, bool online, const nlohmann::json& datasets, bool gpu) {
  return Submit([&](sqlite::Connection& c) -> Status {
    FEDRA_ASSIGN_OR_RETURN(
        sqlite::Statement s,
        c.Prepare(
            "INSERT INTO sites (name, online, last_seen, datasets, gpu) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (name) DO UPDATE SET online = excluded.online, "
            "last_seen = coalesce(excluded.last_seen, sites.last_seen), "
            "datasets = CASE WHEN excluded.online THEN excluded.datasets ELSE sites.datasets END, gpu = excluded.gpu"));
    s.Bind(1, name).Bind(2, int64_t{online}).Bind(4, datasets.dump()).Bind(5, int64_t{gpu});
    if (online) {
      s.Bind(3, UnixSeconds());
    } else {
      s.BindNull(3);
    }
    return s.Run();
  });
}

// ---- reads

Result<nlohmann::json> ExperimentDb::ListExperiments() {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         r->Prepare("SELECT e.id, e.name, e.created_at, count(r.id) FROM experiments e "
                                    "LEFT JOIN runs r ON r.experiment_id = e.id GROUP BY e.id ORDER BY e.id"));
  nlohmann::json out = nlohmann::json::array();
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(
        {{"experiment_id", s.Int(0)}, {"name", s.Text(1)}, {"creation_time", s.Double(2)}, {"runs", s.Int(3)}});
  }
}

Result<std::map<std::string, int64_t>> ExperimentDb::CountRunsByStatus() {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s, r->Prepare("SELECT status, count(*) FROM runs GROUP BY status"));
  std::map<std::string, int64_t> out;
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out[s.Text(0)] = s.Int(1);
  }
}

namespace {

constexpr const char* kRunColumns =
    "r.id, r.experiment_id, e.name, r.name, r.status, r.algorithm, r.dataset, r.submitted_by, r.created_at, "
    "r.started_at, r.ended_at, r.error, coalesce(j.cancel_requested, 0), j.run_id IS NOT NULL";
constexpr const char* kRunsJoined =
    " FROM runs r JOIN experiments e ON e.id = r.experiment_id LEFT JOIN jobs j ON j.run_id = r.id ";

nlohmann::json RunInfo(const sqlite::Statement& s) {
  nlohmann::json info = {{"run_id", s.Int(0)},
                         {"experiment_id", s.Int(1)},
                         {"experiment", s.Text(2)},
                         {"run_name", s.Text(3)},
                         {"status", s.Text(4)},
                         {"algorithm", s.Text(5)},
                         {"dataset", s.Text(6)},
                         {"submitted_by", s.Text(7)},
                         {"creation_time", s.Double(8)},
                         {"start_time", s.IsNull(9) ? nlohmann::json(nullptr) : nlohmann::json(s.Double(9))},
                         {"end_time", s.IsNull(10) ? nlohmann::json(nullptr) : nlohmann::json(s.Double(10))},
                         {"error", s.Text(11)},
                         {"cancel_requested", s.Int(12) != 0},
                         {"job", s.Int(13) != 0}};
  return info;
}

// Adds params, tags and latest metrics to each run in `runs` (by run_id), in three queries:
// "metrics" {key: value}, and "metric_points" [{key, value, step, timestamp}] as MLflow lists them.
Status AddParamsAndMetrics(sqlite::Connection& c, nlohmann::json* runs, const std::string& where) {
  std::map<int64_t, nlohmann::json*> by_id;
  for (auto& run : *runs) {
    run["params"] = nlohmann::json::object();
    run["tags"] = nlohmann::json::object();
    run["metrics"] = nlohmann::json::object();
    run["metric_points"] = nlohmann::json::array();
    by_id[run["run_id"].get<int64_t>()] = &run;
  }
  if (by_id.empty()) return Status::Ok();
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement p, c.Prepare("SELECT run_id, key, value FROM params WHERE " + where));
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, p.Step());
    if (!row) break;
    if (auto it = by_id.find(p.Int(0)); it != by_id.end()) (*it->second)["params"][p.Text(1)] = p.Text(2);
  }
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement t, c.Prepare("SELECT run_id, key, value FROM tags WHERE " + where));
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, t.Step());
    if (!row) break;
    if (auto it = by_id.find(t.Int(0)); it != by_id.end()) (*it->second)["tags"][t.Text(1)] = t.Text(2);
  }
  FEDRA_ASSIGN_OR_RETURN(
      sqlite::Statement m,
      c.Prepare("SELECT run_id, key, value, step, time FROM latest_metrics WHERE " + where + " ORDER BY run_id, key"));
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, m.Step());
    if (!row) break;
    const auto it = by_id.find(m.Int(0));
    if (it == by_id.end()) continue;
    nlohmann::json& run = *it->second;
    run["metrics"][m.Text(1)] = m.Double(2);
    run["metric_points"].push_back(
        {{"key", m.Text(1)}, {"value", m.Double(2)}, {"step", m.Int(3)}, {"timestamp", m.Double(4)}});
  }
  return Status::Ok();
}

}  // namespace

Result<nlohmann::json> ExperimentDb::ListRuns(int64_t experiment, int64_t limit, int64_t offset, bool jobs_only) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         r->Prepare(std::string("SELECT ") + kRunColumns + kRunsJoined +
                                    "WHERE (?1 = 0 OR r.experiment_id = ?1) AND (?4 = 0 OR j.run_id IS NOT NULL) "
                                    "ORDER BY r.id DESC LIMIT ?2 OFFSET ?3"));
  s.Bind(1, experiment).Bind(2, limit).Bind(3, offset).Bind(4, int64_t{jobs_only});
  nlohmann::json runs = nlohmann::json::array();
  int64_t lowest = 0, highest = 0;
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    runs.push_back(RunInfo(s));
    lowest = s.Int(0);
    if (highest == 0) highest = lowest;
  }
  // Params and metrics of the listed id range in two range scans, not one query per run.
  FEDRA_RETURN_IF_ERROR(
      AddParamsAndMetrics(*r, &runs, "run_id BETWEEN " + std::to_string(lowest) + " AND " + std::to_string(highest)));
  return runs;
}

Result<nlohmann::json> ExperimentDb::GetRun(int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s, r->Prepare(std::string("SELECT ") + kRunColumns + ", r.spec, r.result" +
                                                         kRunsJoined + "WHERE r.id = ?1"));
  FEDRA_ASSIGN_OR_RETURN(bool found, s.Bind(1, run).Step());
  if (!found) return NotFound("no run " + std::to_string(run));
  nlohmann::json runs = nlohmann::json::array({RunInfo(s)});
  runs[0]["spec"] = ParseStored(s.Text(14));
  runs[0]["result"] = ParseStored(s.Text(15));
  FEDRA_RETURN_IF_ERROR(AddParamsAndMetrics(*r, &runs, "run_id = " + std::to_string(run)));
  return runs[0];
}

Result<nlohmann::json> ExperimentDb::MetricHistory(int64_t run, const std::string& key, int64_t max_points) {
  if (max_points < 2) return InvalidArgument("max_points must be at least 2");
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  // One query, so the count and the points agree while a job keeps writing. Keep every
  // stride-th point and the last one: at most max_points, evenly spread.
  FEDRA_ASSIGN_OR_RETURN(
      sqlite::Statement s,
      r->Prepare("SELECT step, value, time, n FROM ("
                 "  SELECT step, value, time, row_number() OVER (ORDER BY step, rowid) AS rn, count(*) OVER () AS n "
                 "  FROM metrics WHERE run_id = ?1 AND key = ?2) "
                 "WHERE (rn - 1) % (CASE WHEN n <= ?3 THEN 1 ELSE (n - 1 + ?3 - 2) / (?3 - 1) END) = 0 OR rn = n "
                 "ORDER BY rn"));
  s.Bind(1, run).Bind(2, key).Bind(3, max_points);
  nlohmann::json points = nlohmann::json::array();
  int64_t n = 0;
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) break;
    points.push_back({{"step", s.Int(0)}, {"value", s.Double(1)}, {"timestamp", s.Double(2)}});
    n = s.Int(3);
  }
  return nlohmann::json{{"key", key}, {"total_points", n}, {"metrics", points}};
}

Result<nlohmann::json> ExperimentDb::ListModels(int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(
      sqlite::Statement s,
      r->Prepare("SELECT name, version, shapes, length(bytes), created_at FROM models WHERE run_id = ?1 "
                 "ORDER BY name, version"));
  s.Bind(1, run);
  nlohmann::json out = nlohmann::json::array();
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back({{"name", s.Text(0)},
                   {"version", s.Int(1)},
                   {"shapes", ParseStored(s.Text(2))},
                   {"bytes", s.Int(3)},
                   {"creation_time", s.Double(4)}});
  }
}

Result<ModelBlob> ExperimentDb::GetModel(int64_t run, const std::string& name, int64_t version) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         r->Prepare("SELECT version, shapes, bytes FROM models WHERE run_id = ?1 AND name = ?2 "
                                    "AND (?3 = 0 OR version = ?3) ORDER BY version DESC LIMIT 1"));
  FEDRA_ASSIGN_OR_RETURN(bool found, s.Bind(1, run).Bind(2, name).Bind(3, version).Step());
  if (!found)
    return NotFound("run " + std::to_string(run) + " has no model '" + name + "'" +
                    (version ? " version " + std::to_string(version) : ""));
  const auto bytes = s.Blob(2);
  return ModelBlob{s.Int(0), ParseStored(s.Text(1)), std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

Result<nlohmann::json> ExperimentDb::ListSites() {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(sqlite::Statement s,
                         r->Prepare("SELECT name, online, last_seen, datasets, gpu FROM sites ORDER BY name"));
  nlohmann::json out = nlohmann::json::array();
  for (;;) {
    FEDRA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back({{"name", s.Text(0)},
                   {"online", s.Int(1) != 0},
                   {"last_seen", s.IsNull(2) ? nlohmann::json(nullptr) : nlohmann::json(s.Double(2))},
                   {"datasets", ParseStored(s.Text(3))},
                   {"gpu", s.Int(4) != 0}});
  }
}

Result<bool> ExperimentDb::CancelRequested(int64_t run) {
  FEDRA_ASSIGN_OR_RETURN(Reader r, Borrow());
  FEDRA_ASSIGN_OR_RETURN(
      sqlite::Statement s,
      r->Prepare("SELECT coalesce(j.cancel_requested, 0) FROM runs r LEFT JOIN jobs j ON j.run_id = r.id "
                 "WHERE r.id = ?1"));
  FEDRA_ASSIGN_OR_RETURN(bool found, s.Bind(1, run).Step());
  if (!found) return NotFound("no run " + std::to_string(run));
  return s.Int(0) != 0;
}

}  // namespace fedra

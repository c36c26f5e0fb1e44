// The experiment database: one SQLite file in WAL mode holding experiments, runs (status, job
// spec, result), params, metrics (with a latest-value table for listings), model blobs, the
// federation's sites, and jobs (the runs the master executes, with their cancel requests). The schema is versioned;
// migrations run in code on open.
//
// All writes go through one writer thread, which commits whatever is queued in one transaction
// (each write in its own savepoint, so one failure does not undo the others): concurrent callers
// never see "database is locked", and many small writes cost one commit. Reads use a small pool
// of connections and never wait for the writer.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "master/tracking/sqlite.h"

namespace fedra {

enum class RunStatus { kScheduled, kRunning, kFinished, kFailed, kCancelled };
std::string_view RunStatusName(RunStatus s);  // "scheduled", "running", ...

// Now, in seconds since the Unix epoch: the database's unit of time.
double UnixSeconds();

struct MetricPoint {
  std::string key;  // "loss", or per site "loss@north"
  int64_t step = 0;
  double value = 0;
  double time = 0;  // seconds since the Unix epoch
};

struct NewRun {
  std::string experiment = "default";
  std::string name;
  std::string algorithm, dataset;                    // what a job runs, on what (for listings)
  nlohmann::json spec = nlohmann::json::object();    // the job spec as submitted
  nlohmann::json params = nlohmann::json::object();  // flat key -> value, for listings
  std::map<std::string, std::string> tags;
  std::string submitted_by;
  RunStatus status = RunStatus::kRunning;
  // A job is a run the master executes (and so can cancel); other runs are tracked from outside.
  bool job = false;
};

struct ModelBlob {
  int64_t version = 0;
  nlohmann::json shapes;
  std::vector<uint8_t> bytes;
};

// A job run that a master left scheduled or running.
struct ActiveJob {
  int64_t run = 0;
  bool started = false;  // running, not only scheduled
  nlohmann::json spec;
  std::string experiment;
};

class ExperimentDb {
 public:
  // What happens to runs left scheduled or running when no other process has the file open
  // (their process is gone): marked failed, or kept for a master that takes them up
  // (ListActiveJobs).
  enum class LeftActive { kFail, kKeep };
  // Opens or creates the file and brings its schema up to date.
  static Result<std::unique_ptr<ExperimentDb>> Open(const std::filesystem::path& path,
                                                    LeftActive left_active = LeftActive::kFail);
  ~ExperimentDb();
  ExperimentDb(const ExperimentDb&) = delete;
  ExperimentDb& operator=(const ExperimentDb&) = delete;

  static int SchemaVersion();  // the version this build writes
  // Whether this process was the only one with the file open when it opened it.
  bool opened_alone() const { return alone_; }

  // Writes.
  Result<int64_t> CreateRun(const NewRun& run);  // creates the experiment when new
  // A new, empty experiment; kAlreadyExists when the name is taken.
  Result<int64_t> CreateExperiment(const std::string& name);
  Status SetRunStatus(int64_t run, RunStatus status, const nlohmann::json& result = nullptr,
                      const std::string& error = "");
  // A run's params never change: logging a key's value again is fine, another value is
  // kInvalidArgument (as MLflow's).
  Status LogParams(int64_t run, const std::map<std::string, std::string>& params);
  Status SetTags(int64_t run, const std::map<std::string, std::string>& tags);  // a key's new value replaces its old
  // The same, queued without waiting for the disk (for I/O threads); a failure is logged.
  void SetTagsLater(int64_t run, std::map<std::string, std::string> tags);
  Status RenameRun(int64_t run, const std::string& name);
  Status LogMetrics(int64_t run, std::vector<MetricPoint> points);  // one transaction
  Result<int64_t> SaveModel(int64_t run, const std::string& name, const nlohmann::json& shapes,
                            std::vector<uint8_t> bytes);  // returns the new version
  // Fails with kFailedPrecondition when the run has already ended, kNotFound when it is not a job.
  Status RequestCancel(int64_t run);
  // The latest training checkpoint of a run replaces the one before.
  Status SaveCheckpoint(int64_t run, int64_t round, std::vector<uint8_t> bytes);
  Status RecordSite(const std::string& name, bool online, const nlohmann::json& datasets, bool gpu);

  // Reads.
  Result<nlohmann::json> ListExperiments();
  // {"scheduled": n, "running": n, ...}: how many runs are in each status.
  Result<std::map<std::string, int64_t>> CountRunsByStatus();
  // Newest first, each with its params, tags and latest metrics. experiment 0: all.
  Result<nlohmann::json> ListRuns(int64_t experiment, int64_t limit, int64_t offset, bool jobs_only = false);
  Result<nlohmann::json> GetRun(int64_t run);  // kNotFound when there is none
  // A metric's history in step order, thinned evenly to at most max_points (first and last kept).
  Result<nlohmann::json> MetricHistory(int64_t run, const std::string& key, int64_t max_points);
  Result<nlohmann::json> ListModels(int64_t run);
  Result<ModelBlob> GetModel(int64_t run, const std::string& name, int64_t version);  // version 0: latest
  Result<nlohmann::json> ListSites();
  Result<bool> CancelRequested(int64_t run);
  Result<std::optional<std::vector<uint8_t>>> LoadCheckpoint(int64_t run);  // nullopt: none saved
  Result<std::vector<ActiveJob>> ListActiveJobs();                          // oldest first

 private:
  using Write = std::function<Status(sqlite::Connection&)>;
  struct Pending {
    Write write;
    std::promise<Status> done;
  };

  explicit ExperimentDb(std::filesystem::path path) : path_(std::move(path)) {}
  Status Migrate();
  Status Submit(Write write);  // queues the write and waits for its commit
  // Queues the write; the future tells how it went. Fails when the database is closing.
  Result<std::future<Status>> Enqueue(Write write);
  void WriterLoop();

  // A read connection from the pool, returned on destruction.
  class Reader;
  Result<Reader> Borrow();

  std::filesystem::path path_;
  sqlite::Connection writer_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;

  std::mutex pool_mu_;
  std::vector<sqlite::Connection> pool_;
  int lock_fd_ = -1;  // shared lock on FILE.lock while open
  bool alone_ = false;
};

}  // namespace fedra

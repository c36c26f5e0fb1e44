// Runs request batches against the site's catalog and variables, enforcing privacy on every value
// that would leave, and records each request in the audit trail.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/identity.h"
#include "federated/protocol.h"
#include "site-agent/audit_log.h"
#include "site-agent/catalog.h"
#include "site-agent/float_rows_cache.h"
#include "site-agent/privacy_ledger.h"
#include "site-agent/row_cells.h"
#include "site-agent/secure_sum_site.h"
#include "site-agent/site_config.h"
#include "site-agent/symbol_table.h"

namespace fedra {

class Executor {
 public:
  // All pointers are borrowed and must outlive the executor.
  Executor(std::string site_name, const SiteLimits& limits, const Catalog* catalog, SymbolTable* symbols,
           AuditLog* audit, PrivacyLedger* ledger);

  // Local training runs on the GPU (the site has one and its config allows it).
  void TrainOnGpu(bool on) { train_on_gpu_ = on; }
  // Where kept datasets are written as CSV when a job asks (site.json "output_folder"); empty:
  // nowhere.
  void WriteKeptTo(std::filesystem::path folder) { output_folder_ = std::move(folder); }
  // Takes part in secure sums with these keys (borrowed); without, it refuses them.
  void UseSecureSum(SecureSumSite* secure_sum) { secure_sum_ = secure_sum; }

  // One response per request, in order. A failed request changes no variable; later requests
  // in the batch still run. Thread-safe. Put values are taken from the batch, not copied.
  ResponseBatch Execute(RequestBatch batch, const PeerIdentity& peer);

 private:
  Response Run(Request& q, AuditEvent* audit);
  Response Read(const Request& q, AuditEvent* audit);
  Response Describe(const Request& q, AuditEvent* audit);
  Response Put(Request& q);
  Response Get(const Request& q, AuditEvent* audit);
  Response Exec(const Request& q, AuditEvent* audit);
  Response Clear(const Request& q);
  Response Keep(const Request& q, AuditEvent* audit);
  Response SecureSum(const Request& q, AuditEvent* audit);
  // DP-FedAvg at this site: charges a round of noise multiplier dp.noise_multiplier to the budget
  // of every dataset behind the update (refused past it), clips the update to dp.clip_norm and
  // adds this site's share of the noise for a sum over at least `threshold` sites. Returns what
  // was added, for the response.
  Result<nlohmann::json> NoiseTrainingUpdate(const Provenance& provenance, const SecureSumDp& dp, int threshold,
                                             Matrix* value);
  Response ReadKept(const Request& q, const KeptDataset& kept, const std::vector<std::string>& columns,
                    AuditEvent* audit);
  // The catalog's datasets and the kept ones.
  nlohmann::json ListDatasets() const;
  // splitRows: the rows picked by a seeded hash (keyed and by cells for protected data).
  Response Split(const Request& q, const Variable& input, Provenance provenance, AuditEvent* audit);

  // The cell of each row of `x`, a private-aggregate value holding `rows`; the dataset's cells
  // are made from the first such value that holds all of its rows.
  Result<std::vector<uint32_t>> CellsOf(const RowSet& rows, const Matrix& x, uint32_t* cells);

  // Charges a dp-aggregate release of `value` (the result of `name` under `rule` on `inputs`) to
  // its dataset's budget and adds the calibrated noise; returns what was added, for the response.
  Result<nlohmann::json> Noise(const Request& q, const OperationPrivacy& rule, std::span<const Variable> inputs,
                               Matrix* value);

  // Adds `value` as q.output and, if q asked for it, returns it when privacy allows.
  Response Store(const Request& q, Matrix value, Provenance provenance, bool return_value, AuditEvent* audit);
  // The response carrying a copy of `var`'s value, or the privacy refusal.
  Response Release(const Variable& var, AuditEvent* audit);

  const std::string site_name_;
  const SiteLimits limits_;
  bool train_on_gpu_ = false;
  std::filesystem::path output_folder_;
  const Catalog* catalog_;
  SymbolTable* symbols_;
  AuditLog* audit_;
  PrivacyLedger* ledger_;
  SecureSumSite* secure_sum_ = nullptr;

  // Since the site started, for monitoring (the ping's answer).
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // New at every start, in every answer: how the master tells that this site lost its variables.
  const uint64_t incarnation_;
  std::atomic<uint64_t> requests_{0}, refused_{0}, failed_{0}, bytes_out_{0};

  std::mutex cells_mu_;
  std::map<std::string, std::shared_ptr<const RowCells>> cells_;  // by dataset; guarded by cells_mu_
  // The rows trainLocal trains on, as floats, across a job's rounds: at most a quarter of the
  // memory budget (each copy is half its variable's size).
  FloatRowsCache float_rows_{limits_.memory_budget_bytes / 4};
};

}  // namespace fedra

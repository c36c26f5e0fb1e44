// Runs request batches against the site's catalog and variables, enforcing privacy on every value
// that would leave, and records each request in the audit trail.
#pragma once

#include <string>

#include "common/tls.h"
#include "federated/protocol.h"
#include "site-agent/audit_log.h"
#include "site-agent/catalog.h"
#include "site-agent/site_config.h"
#include "site-agent/symbol_table.h"

namespace fedra {

class Executor {
 public:
  // All pointers are borrowed and must outlive the executor.
  Executor(std::string site_name, const SiteLimits& limits, const Catalog* catalog,
           SymbolTable* symbols, AuditLog* audit);

  // Local training runs on the GPU (the site has one and its config allows it).
  void TrainOnGpu(bool on) { train_on_gpu_ = on; }

  // One response per request, in order. A failed request changes no variable; later requests
  // in the batch still run. Thread-safe.
  ResponseBatch Execute(const RequestBatch& batch, const PeerIdentity& peer);

 private:
  Response Run(const Request& q, AuditEvent* audit);
  Response Read(const Request& q, AuditEvent* audit);
  Response Put(const Request& q);
  Response Get(const Request& q, AuditEvent* audit);
  Response Exec(const Request& q, AuditEvent* audit);
  Response Clear(const Request& q);

  // Adds `value` as q.output and, if q asked for it, returns it when privacy allows.
  Response Store(const Request& q, Matrix value, Provenance provenance, bool return_value,
                 AuditEvent* audit);
  // The response carrying a copy of `var`'s value, or the privacy refusal.
  Response Release(const Variable& var, AuditEvent* audit);

  const std::string site_name_;
  const SiteLimits limits_;
  bool train_on_gpu_ = false;
  const Catalog* catalog_;
  SymbolTable* symbols_;
  AuditLog* audit_;
};

}  // namespace fedra

// Everything a site runs, less the network: its audit trail, privacy ledger, catalog, variables
// and the executor that answers request batches. The TLS server (site_server.h) puts one on the
// network; tests run several in one process behind the master's Federation interface.
#pragma once

#include <memory>

#include "common/status.h"
#include "site-agent/audit_log.h"
#include "site-agent/catalog.h"
#include "site-agent/executor.h"
#include "site-agent/privacy_ledger.h"
#include "site-agent/secure_sum_site.h"
#include "site-agent/site_config.h"
#include "site-agent/symbol_table.h"

namespace fedra {

class SiteAgent {
 public:
  // Opens the audit log and privacy ledger, probes the catalog, and picks the GPU for training
  // when the config allows it and there is one.
  static Result<std::unique_ptr<SiteAgent>> Open(const SiteConfig& config);

  // Answers one batch from `peer` (an admitted master). Thread-safe.
  ResponseBatch Execute(RequestBatch batch, const PeerIdentity& peer) {
    return executor_->Execute(std::move(batch), peer);
  }
  AuditLog& audit() { return *audit_; }

 private:
  SiteAgent() = default;

  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<PrivacyLedger> ledger_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<SymbolTable> symbols_;
  std::unique_ptr<SecureSumSite> secure_sum_;  // null without a certificate to sign with
  std::unique_ptr<Executor> executor_;         // declared last: it borrows the others
};

}  // namespace fedra

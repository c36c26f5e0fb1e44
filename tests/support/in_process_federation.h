// Sites run in the test process behind the master's Federation interface: each batch is encoded
// and decoded as on the wire and answered by the site's real executor, privacy checks and audit
// trail included — everything but TLS, sockets and processes, so algorithm tests take
// milliseconds.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "master/federation/federation.h"
#include "site-agent/site_agent.h"
#include "tests/support/site_kits.h"

namespace fedra::testing {

// A site that may stop and start again while masters hold it; a batch in flight keeps the agent
// it started on.
class SiteSlot {
 public:
  std::shared_ptr<SiteAgent> agent() const;
  void set(std::shared_ptr<SiteAgent> agent);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<SiteAgent> agent_;  // null while stopped
};

// The federation of master `master` over `sites`; a stopped site answers as an unreachable one
// does: unavailable.
class InProcessFederation final : public Federation {
 public:
  InProcessFederation(std::map<std::string, std::shared_ptr<const SiteSlot>> sites, std::string master);

 protected:
  std::future<Result<ResponseBatch>> Send(const std::string& site, const RequestBatch& batch) override;

 private:
  static std::vector<std::string> Names(const std::map<std::string, std::shared_ptr<const SiteSlot>>& sites);

  const std::map<std::string, std::shared_ptr<const SiteSlot>> sites_;
  const PeerIdentity master_;
};

// Site kits (no certificates: nothing here speaks TLS) whose sites start as SiteAgents in this
// process. A stop drops the site's state as a process exit would; its files stay.
class InProcessSites final : public SiteKits {
 public:
  InProcessSites(std::filesystem::path dir, std::vector<std::string> sites);

  void Start(const std::string& site) override;
  std::optional<int> Stop(const std::string& site) override;
  std::unique_ptr<Federation> Connect(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const override;

 private:
  std::map<std::string, std::shared_ptr<SiteSlot>> slots_;
};

}  // namespace fedra::testing

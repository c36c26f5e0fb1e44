// A real federation on loopback for tests whose subject is processes and the network:
// certificates from the real provisioning command, one real fedra-site process per site (port
// chosen by the OS), and a master connected to them over mutual TLS.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/identity.h"
#include "master/federation/federation.h"
#include "master/federation/federation_config.h"
#include "tests/support/child_process.h"
#include "tests/support/site_kits.h"

namespace fedra::testing {

class LocalFederation final : public SiteKits {
 public:
  // Provisions a CA, master kit "m" and a kit per site under `dir`.
  LocalFederation(std::filesystem::path dir, std::vector<std::string> sites);
  ~LocalFederation() override;

  std::filesystem::path master_kit() const { return dir_ / "master-m"; }
  // The master's certificate, key and CA, for clients that speak to the sites as master "m".
  TlsFiles master_tls() const { return {master_kit() / "cert.pem", master_kit() / "key.pem", master_kit() / "ca.crt"}; }
  std::filesystem::path log(const std::string& site) const { return kit(site) / "site.log"; }

  // Starts the site process and waits (with a deadline) until it listens. Throws on failure.
  void Start(const std::string& site) override;
  // SIGTERM and wait; returns the exit status (nullopt if it did not stop in time).
  std::optional<int> Stop(const std::string& site) override;
  ChildProcess& process(const std::string& site) { return processes_.at(site); }
  // Commands a site's process starts under, e.g. {"prlimit", "--nofile=64"}.
  std::map<std::string, std::vector<std::string>> launch_prefix;
  uint16_t port(const std::string& site) const { return ports_.at(site); }

  // The master's configuration pointing at the running sites.
  FederationConfig MasterConfig(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const;
  std::unique_ptr<Federation> Connect(std::chrono::seconds call_timeout = std::chrono::seconds(20)) const override;
  // Writes MasterConfig() as a federation.json for a fedra-master process; returns `path`.
  std::filesystem::path WriteFederationJson(const std::filesystem::path& path) const;

 private:
  std::map<std::string, ChildProcess> processes_;
  std::map<std::string, uint16_t> ports_;
};

// Joins the site's log for failure messages.
std::string SiteLog(const LocalFederation& fed, const std::string& site);

// Ok once every site of `fed` holds no variable, releases flushed: nothing a job made was left
// behind. Waits, up to 10 s, for a site still finishing a batch the master gave up on.
Status NothingLeft(Federation& fed);

}  // namespace fedra::testing

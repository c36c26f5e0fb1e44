// The master's view of its federation (federation.json): its own TLS kit, the sites by name and
// address, and the deadlines and limits for talking to them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/identity.h"
#include "common/status.h"

namespace fedra {

struct SiteAddress {
  std::string name;  // must equal the CN of the site's certificate
  std::string host;
  uint16_t port = 0;

  std::string ToString() const { return "site '" + name + "' (" + host + ":" + std::to_string(port) + ")"; }
};

struct FederationConfig {
  std::string name;        // this master's name (its certificate CN)
  std::string federation;  // the federation's name
  TlsFiles tls;
  std::vector<SiteAddress> sites;
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds call_timeout{60};
  // Largest frame accepted: a response batch's head, or one chunk of its values.
  uint64_t max_message_bytes = 64ull << 20;
  uint64_t max_value_bytes = 64ull << 30;  // the most one response's values may take
};

Result<FederationConfig> LoadFederationConfig(const std::filesystem::path& path);
Result<FederationConfig> ParseFederationConfig(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                               const std::string& source);

// federation.json for `config` in `base_dir`: parses back to `config`.
nlohmann::ordered_json FederationConfigJson(const FederationConfig& config, const std::filesystem::path& base_dir);

}  // namespace fedra

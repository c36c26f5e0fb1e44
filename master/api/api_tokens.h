// Bearer tokens for the REST API. Provisioning issues each token once (printed, and written to a
// 0600 file in the master's kit) and records only its SHA-256 in the master's token file, one
// line per token: "NAME ROLE SHA256HEX". Roles: viewer (read) and operator (read, submit,
// cancel, write metrics).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "common/status.h"

namespace fedra {

enum class ApiRole { kViewer, kOperator };

struct ApiPrincipal {
  std::string name;
  ApiRole role = ApiRole::kViewer;
};

class ApiTokens {
 public:
  // Reads the token file; errors name the line. An empty file gives a store that admits nobody.
  static Result<ApiTokens> Load(const std::filesystem::path& path);
  // Adds a token by its SHA-256 (hex), for tests and tools.
  Status Add(const std::string& name, const std::string& role, const std::string& sha256_hex);

  // The principal whose token this is; kUnauthenticated for a missing or unknown token.
  Result<ApiPrincipal> Authenticate(const std::string& token) const;

 private:
  std::map<std::string, ApiPrincipal> by_hash_;  // lower-case hex SHA-256 -> principal
};

}  // namespace fedra

#include "master/api/api_tokens.h"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

#include "common/digest.h"

namespace fedra {

Status ApiTokens::Add(const std::string& name, const std::string& role, const std::string& sha256_hex) {
  if (role != "viewer" && role != "operator")
    return InvalidArgument("unknown role '" + role + "' (viewer or operator)");
  if (sha256_hex.size() != 64 || sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument("token '" + name + "': expected a lower-case hex SHA-256");
  }
  by_hash_[sha256_hex] = ApiPrincipal{name, role == "operator" ? ApiRole::kOperator : ApiRole::kViewer};
  return Status::Ok();
}

Result<ApiTokens> ApiTokens::Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path.string() + ": cannot read the API token file");
  ApiTokens tokens;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, role, hash, extra;
    if (!(fields >> name >> role >> hash) || (fields >> extra)) {
      return InvalidArgument(path.string() + ":" + std::to_string(number) + ": expected NAME ROLE SHA256");
    }
    FEDRA_RETURN_IF_ERROR(tokens.Add(name, role, hash).WithContext(path.string() + ":" + std::to_string(number)));
  }
  return tokens;
}

Result<ApiPrincipal> ApiTokens::Authenticate(const std::string& token) const {
  if (token.empty()) return Unauthenticated("a bearer token is required (Authorization: Bearer TOKEN)");
  // Look up by hash: the comparison that matters is of hashes, so timing reveals nothing of the token.
  const std::string hash = Sha256Hex(token);
  for (const auto& [stored, principal] : by_hash_) {
    if (CRYPTO_memcmp(stored.data(), hash.data(), hash.size()) == 0) return principal;
  }
  return Unauthenticated("unknown token");
}

}  // namespace fedra

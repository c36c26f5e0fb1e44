#include "provision/api_tokens.h"

#include <functional>
#include <set>
#include <sstream>

#include <openssl/rand.h>

#include "common/digest.h"
#include "provision/certificates.h"
#include "provision/files.h"

namespace fedra::provision {
namespace {

namespace fs = std::filesystem;

constexpr char kApiTokensHeader[] = "# NAME ROLE SHA256 (fedra-master serve reads this; tokens are in tokens/)\n";

Result<std::string> NewTokenSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Internal("draw an API token: " + DrainOpenSslErrors());
  return LowerHex(bytes);
}

// The first field of each line of an api-tokens file; none when it does not exist.
Result<std::set<std::string, std::less<>>> IssuedTokenNames(const fs::path& api_tokens) {
  std::set<std::string, std::less<>> names;
  if (!PathExists(api_tokens)) return names;
  FEDRA_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(api_tokens));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::string first;
    if (std::istringstream(line) >> first) names.insert(first);
  }
  return names;
}

Status RecordTokenDigest(const fs::path& api_tokens, const std::string& line) {
  if (!PathExists(api_tokens)) return WriteNewFile(api_tokens, kApiTokensHeader + line, kSecretFileMode);
  return AppendToFile(api_tokens, line);
}

}  // namespace

Status CheckTokenNamesAreFree(const fs::path& kit, const std::string& master, const std::vector<TokenSpec>& tokens) {
  FEDRA_ASSIGN_OR_RETURN(auto issued, IssuedTokenNames(kit / "api-tokens"));
  for (const TokenSpec& token : tokens) {
    if (PathExists(kit / "tokens" / (token.name + ".token")) || issued.contains(token.name)) {
      return AlreadyExists("token '" + token.name + "' already exists for master " + master + " (" + kit.string() +
                           ")");
    }
  }
  return Status::Ok();
}

Status IssueToken(const fs::path& kit, const std::string& master, const TokenSpec& token, ProvisionReport* report) {
  const fs::path tokens_dir = kit / "tokens";
  if (!PathExists(tokens_dir)) FEDRA_RETURN_IF_ERROR(CreateNewDirectory(tokens_dir, kPrivateDirMode));
  FEDRA_ASSIGN_OR_RETURN(std::string secret, NewTokenSecret());
  const std::string digest = Sha256Hex(secret);
  const fs::path file = tokens_dir / (token.name + ".token");
  FEDRA_RETURN_IF_ERROR(WriteNewFile(file, secret + "\n", kSecretFileMode));
  FEDRA_RETURN_IF_ERROR(RecordTokenDigest(kit / "api-tokens", token.name + " " + token.role + " " + digest + "\n"));
  report->lines.push_back("issued " + token.role + " token '" + token.name + "' for master " + master + ": " +
                          file.string());
  return Status::Ok();
}

}  // namespace fedra::provision

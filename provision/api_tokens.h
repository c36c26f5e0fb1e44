// REST API bearer tokens for a master's kit: each token is a fresh 256-bit secret written once to
// kit/tokens/NAME.token (mode 0600) for its holder; only its SHA-256 is recorded, in
// kit/api-tokens, which fedra-master serve reads. Tokens are never printed or overwritten.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "provision/provisioner.h"

namespace fedra::provision {

// kAlreadyExists when any of `tokens` was issued for the master in `kit` already: checked
// before anything is written.
Status CheckTokenNamesAreFree(const std::filesystem::path& kit, const std::string& master,
                              const std::vector<TokenSpec>& tokens);

// Issues `token` for the master in `kit` and says where it is in `report`.
Status IssueToken(const std::filesystem::path& kit, const std::string& master, const TokenSpec& token,
                  ProvisionReport* report);

}  // namespace fedra::provision

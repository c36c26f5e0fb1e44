// The ready-to-run configuration files of startup kits: a site's site.json and a master's
// federation.json, written from the same structs the site and the master parse them into, so
// a new kit starts with the defaults they would apply.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra::provision {

// A site as masters reach it.
struct SiteEndpoint {
  std::string name;
  std::string host;
  int port = 0;
};

// Writes a new site.json (mode 0644; never over an existing file) for `site`: it listens on
// site.host:site.port with the kit's cert.pem/key.pem/ca.crt, admits `allowed_masters` (none when
// empty), and has the default log files and limits and no datasets yet.
Status WriteSiteConfig(const std::filesystem::path& file, const SiteEndpoint& site,
                       const std::vector<std::string>& allowed_masters);

// Writes a new federation.json (mode 0644; never over an existing file) for master `master` of
// `federation`, with the kit's TLS files, `sites` and the default limits.
Status WriteFederationConfig(const std::filesystem::path& file, std::string_view master, std::string_view federation,
                             const std::vector<SiteEndpoint>& sites);

// `site` as one line of federation.json's "sites" array: {"name": "a", "host": "h", "port": 7000}.
std::string SiteEntryLine(const SiteEndpoint& site);

}  // namespace fedra::provision

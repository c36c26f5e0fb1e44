#include "provision/kit_configs.h"

#include <nlohmann/json.hpp>

#include "master/federation/federation_config.h"
#include "provision/files.h"
#include "site-agent/site_config.h"

namespace fedra::provision {
namespace {

using Json = nlohmann::ordered_json;

Status WriteJsonFile(const std::filesystem::path& file, const Json& document) {
  return WriteNewFile(file, document.dump(2) + "\n", kPublicFileMode);
}

}  // namespace

Status WriteSiteConfig(const std::filesystem::path& file, const SiteEndpoint& site,
                       const std::vector<std::string>& allowed_masters) {
  const std::filesystem::path kit = file.parent_path();
  SiteConfig config;  // every other field as the site reads it when the file leaves it out
  config.name = site.name;
  config.listen_address = site.host;
  config.listen_port = static_cast<uint16_t>(site.port);
  config.tls = TlsFiles::InKit(kit);
  config.allowed_masters = allowed_masters;
  return WriteJsonFile(file, SiteConfigJson(config, kit));
}

Status WriteFederationConfig(const std::filesystem::path& file, std::string_view master, std::string_view federation,
                             const std::vector<SiteEndpoint>& sites) {
  const std::filesystem::path kit = file.parent_path();
  FederationConfig config;
  config.name = master;
  config.federation = federation;
  config.tls = TlsFiles::InKit(kit);
  for (const SiteEndpoint& site : sites) {
    config.sites.push_back(fedra::SiteAddress{site.name, site.host, static_cast<uint16_t>(site.port)});
  }
  return WriteJsonFile(file, FederationConfigJson(config, kit));
}

std::string SiteEntryLine(const SiteEndpoint& site) {
  // dump() has no spaces after ',' and ':'; the printed hint reads like the files do.
  return "{\"name\": " + Json(site.name).dump() + ", \"host\": " + Json(site.host).dump() +
         ", \"port\": " + std::to_string(site.port) + "}";
}

}  // namespace fedra::provision

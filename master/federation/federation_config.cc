#include "master/federation/federation_config.h"

#include <set>

#include "common/config.h"
#include "common/framing.h"

namespace fedra {

Result<FederationConfig> ParseFederationConfig(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                               const std::string& source) {
  FederationConfig config;
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("name", &config.name));
  FEDRA_RETURN_IF_ERROR(f.Optional("federation", &config.federation));

  FEDRA_RETURN_IF_ERROR(ParseTlsFiles(f, base_dir, &config.tls));

  const nlohmann::json* sites = f.Child("sites");
  if (!sites || !sites->is_array() || sites->empty()) {
    return InvalidArgument(f.Path("sites") + ": expected a non-empty array of {name, host, port}");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < sites->size(); ++i) {
    JsonFields s((*sites)[i], f.Path("sites") + "[" + std::to_string(i) + "]");
    SiteAddress site;
    int64_t port = 0;
    FEDRA_RETURN_IF_ERROR(s.Required("name", &site.name));
    FEDRA_RETURN_IF_ERROR(s.Required("host", &site.host));
    FEDRA_RETURN_IF_ERROR(s.Required("port", &port, 1, 65535));
    FEDRA_RETURN_IF_ERROR(s.Finish());
    if (!names.insert(site.name).second) {
      return InvalidArgument(s.Path("name") + ": site '" + site.name + "' is listed twice");
    }
    site.port = static_cast<uint16_t>(port);
    config.sites.push_back(std::move(site));
  }

  if (const nlohmann::json* limits = f.Child("limits")) {
    JsonFields l(*limits, f.Path("limits"));
    int64_t connect = config.connect_timeout.count(), call = config.call_timeout.count();
    int64_t max_message = static_cast<int64_t>(config.max_message_bytes);
    int64_t max_values = static_cast<int64_t>(config.max_value_bytes);
    FEDRA_RETURN_IF_ERROR(l.Optional("connect_timeout_s", &connect, 1, 3600));
    FEDRA_RETURN_IF_ERROR(l.Optional("call_timeout_s", &call, 1, 86400));
    // A frame must hold a value chunk.
    FEDRA_RETURN_IF_ERROR(
        l.Optional("max_message_bytes", &max_message, static_cast<int64_t>(kValueChunkBytes), int64_t{1} << 40));
    FEDRA_RETURN_IF_ERROR(l.Optional("max_value_bytes", &max_values, 1024, int64_t{1} << 50));
    FEDRA_RETURN_IF_ERROR(l.Finish());
    config.connect_timeout = std::chrono::seconds(connect);
    config.call_timeout = std::chrono::seconds(call);
    config.max_message_bytes = static_cast<uint64_t>(max_message);
    config.max_value_bytes = static_cast<uint64_t>(max_values);
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  return config;
}

nlohmann::ordered_json FederationConfigJson(const FederationConfig& config, const std::filesystem::path& base_dir) {
  OrderedJson sites = OrderedJson::array();
  for (const SiteAddress& site : config.sites) {
    sites.push_back({{"name", site.name}, {"host", site.host}, {"port", site.port}});
  }
  return {{"name", config.name},
          {"federation", config.federation},
          {"tls", TlsFilesJson(config.tls, base_dir)},
          {"sites", std::move(sites)},
          {"limits",
           {{"connect_timeout_s", config.connect_timeout.count()},
            {"call_timeout_s", config.call_timeout.count()},
            {"max_message_bytes", config.max_message_bytes},
            {"max_value_bytes", config.max_value_bytes}}}};
}

Result<FederationConfig> LoadFederationConfig(const std::filesystem::path& path) {
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, LoadJsonFile(path));
  return ParseFederationConfig(doc, std::filesystem::absolute(path).parent_path(), path.filename().string());
}

}  // namespace fedra

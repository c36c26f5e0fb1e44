#include "site-agent/site_config.h"

#include <cmath>

#include "common/config.h"
#include "common/framing.h"
#include "federated/protocol.h"
#include "federated/secure_sum.h"

namespace fedra {
namespace {

Status ParseLimits(JsonFields& fields, SiteLimits* limits) {
  const nlohmann::json* node = fields.Child("limits");
  if (!node) return Status::Ok();
  JsonFields f(*node, fields.Path("limits"));
  int64_t max_message = static_cast<int64_t>(limits->max_message_bytes);
  int64_t max_response = static_cast<int64_t>(limits->max_response_bytes);
  int64_t budget = static_cast<int64_t>(limits->memory_budget_bytes);
  int64_t min_rows = static_cast<int64_t>(limits->min_aggregate_rows);
  // A frame must hold a value chunk.
  FEDRA_RETURN_IF_ERROR(
      f.Optional("max_message_bytes", &max_message, static_cast<int64_t>(kValueChunkBytes), int64_t{1} << 40));
  FEDRA_RETURN_IF_ERROR(f.Optional("max_response_bytes", &max_response, 1024, int64_t{1} << 40));
  FEDRA_RETURN_IF_ERROR(f.Optional("memory_budget_bytes", &budget, 1 << 20, int64_t{1} << 50));
  FEDRA_RETURN_IF_ERROR(f.Optional("min_aggregate_rows", &min_rows, 1, int64_t{1} << 40));
  // Two is the least: a sum over one site is that site's value.
  FEDRA_RETURN_IF_ERROR(f.Optional("min_secure_sum_sites", &limits->min_secure_sum_sites, 2, kMaxSecureSumSites));
  FEDRA_RETURN_IF_ERROR(f.Optional("read_timeout_s", &limits->read_timeout_s, 1, 3600));
  FEDRA_RETURN_IF_ERROR(f.Optional("idle_timeout_s", &limits->idle_timeout_s, 1, 86400));
  FEDRA_RETURN_IF_ERROR(f.Finish());
  limits->max_message_bytes = static_cast<uint64_t>(max_message);
  limits->max_response_bytes = static_cast<uint64_t>(max_response);
  limits->memory_budget_bytes = static_cast<uint64_t>(budget);
  limits->min_aggregate_rows = static_cast<uint64_t>(min_rows);
  return Status::Ok();
}

Status ParseDpPolicy(JsonFields& dataset, DpPolicy* dp) {
  const nlohmann::json* node = dataset.Child("dp");
  if (!node)
    return InvalidArgument(dataset.Path("dp") +
                           ": a dp-aggregate dataset needs its budget and bounds "
                           "({\"epsilon\": 1, \"delta\": 1e-6, \"bounds\": {\"column\": [low, high]}})");
  JsonFields f(*node, dataset.Path("dp"));
  FEDRA_RETURN_IF_ERROR(f.Required("epsilon", &dp->epsilon, 1e-6, 1e6));
  FEDRA_RETURN_IF_ERROR(f.Optional("delta", &dp->delta, 1e-15, 0.1));
  FEDRA_RETURN_IF_ERROR(f.Optional("noise_multiplier", &dp->noise_multiplier, 0.01, 1e6));
  const nlohmann::json* bounds = f.Child("bounds");
  if (!bounds || !bounds->is_object() || bounds->empty()) {
    return InvalidArgument(f.Path("bounds") +
                           ": required, the range of each column ({\"age\": [0, 120]}, or \"*\" for all)");
  }
  for (const auto& [column, range] : bounds->items()) {
    if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number() ||
        !(range[0].get<double>() <= range[1].get<double>()) || !std::isfinite(range[0].get<double>()) ||
        !std::isfinite(range[1].get<double>())) {
      return InvalidArgument(f.Path("bounds") + "." + column + ": expected [low, high] with low <= high");
    }
    dp->bounds[column] = {range[0].get<double>(), range[1].get<double>()};
  }
  return f.Finish();
}

Status ParseDataset(const std::string& name, const nlohmann::json& node, const std::string& where,
                    const std::filesystem::path& base, DatasetSpec* spec) {
  if (!IsValidDatasetName(name)) {
    return InvalidArgument(where + ": invalid dataset name '" + name +
                           "' (letters, digits, '_', '-', '.'; not starting with '.')");
  }
  JsonFields f(node, where);
  std::string path, privacy = "private-aggregate", delimiter = ",", labels;
  spec->name = name;
  FEDRA_RETURN_IF_ERROR(f.Required("path", &path));
  FEDRA_RETURN_IF_ERROR(f.Optional("format", &spec->format));
  FEDRA_RETURN_IF_ERROR(f.Optional("header", &spec->header));
  FEDRA_RETURN_IF_ERROR(f.Optional("delimiter", &delimiter));
  FEDRA_RETURN_IF_ERROR(f.Optional("labels", &labels));
  FEDRA_RETURN_IF_ERROR(f.Required("privacy", &privacy));
  FEDRA_RETURN_IF_ERROR(f.Optional("allow_training", &spec->allow_training));
  FEDRA_RETURN_IF_ERROR(f.Optional("missing", &spec->missing));
  FEDRA_RETURN_IF_ERROR(f.Optional("rare_categories", &spec->rare_categories));
  if (spec->rare_categories != "other" && spec->rare_categories != "refuse") {
    return InvalidArgument(f.Path("rare_categories") + ": '" + spec->rare_categories + "' is not one of other, refuse");
  }
  if (const nlohmann::json* types = f.Child("types")) {
    if (!types->is_object()) return InvalidArgument(f.Path("types") + ": expected {\"column\": \"type\"}");
    for (const auto& [column, type] : types->items()) {
      if (!type.is_string() || (type != "numeric" && type != "categorical" && type != "boolean")) {
        return InvalidArgument(f.Path("types") + "." + column +
                               ": expected \"numeric\", \"categorical\" or \"boolean\"");
      }
      spec->types[column] = type.get<std::string>();
    }
  }
  Result<PrivacyLevel> level = ParsePrivacyLevel(privacy);
  if (!level.ok()) return level.status().WithContext(f.Path("privacy"));
  spec->privacy = *level;
  if (spec->privacy == PrivacyLevel::kDpAggregate) {
    FEDRA_RETURN_IF_ERROR(ParseDpPolicy(f, &spec->dp));
  } else if (f.Child("dp")) {
    return InvalidArgument(f.Path("dp") + ": only for dp-aggregate datasets");
  }
  if (const nlohmann::json* node = f.Child("dp_training")) {
    JsonFields budget(*node, f.Path("dp_training"));
    FEDRA_RETURN_IF_ERROR(budget.Required("epsilon", &spec->dp_training.epsilon, 1e-6, 1e6));
    FEDRA_RETURN_IF_ERROR(budget.Optional("delta", &spec->dp_training.delta, 1e-15, 0.1));
    FEDRA_RETURN_IF_ERROR(budget.Finish());
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  if (spec->format != "csv" && spec->format != "idx") {
    return InvalidArgument(f.Path("format") + ": unknown format '" + spec->format + "' (expected csv or idx)");
  }
  if (!labels.empty() && spec->format != "idx") return InvalidArgument(f.Path("labels") + ": only for the idx format");
  if (!labels.empty()) spec->labels = ResolvePath(base, labels);
  if (delimiter.size() != 1 || delimiter[0] == '"' || delimiter[0] == '\n' || delimiter[0] == '\r') {
    return InvalidArgument(f.Path("delimiter") + ": expected one character other than a quote or newline");
  }
  spec->delimiter = delimiter[0];
  spec->path = ResolvePath(base, path);
  return Status::Ok();
}

OrderedJson DatasetJson(const DatasetSpec& spec, const std::filesystem::path& base_dir) {
  OrderedJson out = {{"path", PathInConfig(base_dir, spec.path)},
                     {"format", spec.format},
                     {"header", spec.header},
                     {"delimiter", std::string(1, spec.delimiter)},
                     {"privacy", std::string(PrivacyLevelName(spec.privacy))},
                     {"allow_training", spec.allow_training},
                     {"missing", spec.missing},
                     {"rare_categories", spec.rare_categories}};
  if (!spec.types.empty()) out["types"] = spec.types;
  if (!spec.labels.empty()) out["labels"] = PathInConfig(base_dir, spec.labels);
  if (spec.dp_training.epsilon > 0) {
    out["dp_training"] = {{"epsilon", spec.dp_training.epsilon}, {"delta", spec.dp_training.delta}};
  }
  if (spec.privacy == PrivacyLevel::kDpAggregate) {
    OrderedJson bounds = OrderedJson::object();
    for (const auto& [column, b] : spec.dp.bounds) bounds[column] = {b.lo, b.hi};
    out["dp"] = {{"epsilon", spec.dp.epsilon},
                 {"delta", spec.dp.delta},
                 {"noise_multiplier", spec.dp.noise_multiplier},
                 {"bounds", std::move(bounds)}};
  }
  return out;
}

}  // namespace

OrderedJson SiteConfigJson(const SiteConfig& config, const std::filesystem::path& base_dir) {
  const SiteLimits& limits = config.limits;
  OrderedJson datasets = OrderedJson::object();
  for (const auto& [name, spec] : config.datasets) datasets[name] = DatasetJson(spec, base_dir);
  OrderedJson out = {{"name", config.name},
                     {"listen", {{"address", config.listen_address}, {"port", config.listen_port}}},
                     {"tls", TlsFilesJson(config.tls, base_dir)},
                     {"allowed_masters", config.allowed_masters},
                     {"audit_log", PathInConfig(base_dir, config.audit_log)},
                     {"audit_log_max_bytes", config.audit_rotation.max_bytes},
                     {"audit_log_keep", config.audit_rotation.keep},
                     {"privacy_ledger", PathInConfig(base_dir, config.privacy_ledger)},
                     {"limits",
                      {{"max_message_bytes", limits.max_message_bytes},
                       {"max_response_bytes", limits.max_response_bytes},
                       {"memory_budget_bytes", limits.memory_budget_bytes},
                       {"min_aggregate_rows", limits.min_aggregate_rows},
                       {"min_secure_sum_sites", limits.min_secure_sum_sites},
                       {"read_timeout_s", limits.read_timeout_s},
                       {"idle_timeout_s", limits.idle_timeout_s}}},
                     {"gpu", config.gpu ? "auto" : "off"},
                     {"datasets", std::move(datasets)}};
  if (!config.output_folder.empty()) out["output_folder"] = PathInConfig(base_dir, config.output_folder);
  return out;
}

Result<SiteConfig> ParseSiteConfig(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                   const std::string& source) {
  SiteConfig config;
  JsonFields f(doc, source + ":");
  FEDRA_RETURN_IF_ERROR(f.Required("name", &config.name));
  if (config.name.empty()) return InvalidArgument(f.Path("name") + ": must not be empty");
  if (const nlohmann::json* listen = f.Child("listen")) {
    JsonFields l(*listen, f.Path("listen"));
    int64_t port = config.listen_port;
    FEDRA_RETURN_IF_ERROR(l.Optional("address", &config.listen_address));
    FEDRA_RETURN_IF_ERROR(l.Optional("port", &port, 0, 65535));
    FEDRA_RETURN_IF_ERROR(l.Finish());
    config.listen_port = static_cast<uint16_t>(port);
  }
  FEDRA_RETURN_IF_ERROR(ParseTlsFiles(f, base_dir, &config.tls));
  FEDRA_RETURN_IF_ERROR(f.Optional("allowed_masters", &config.allowed_masters));
  std::string audit = config.audit_log.string();
  FEDRA_RETURN_IF_ERROR(f.Optional("audit_log", &audit));
  config.audit_log = ResolvePath(base_dir, audit);
  auto max_bytes = static_cast<int64_t>(config.audit_rotation.max_bytes);
  auto keep = static_cast<int64_t>(config.audit_rotation.keep);
  FEDRA_RETURN_IF_ERROR(f.Optional("audit_log_max_bytes", &max_bytes, 4096, int64_t{1} << 50));
  FEDRA_RETURN_IF_ERROR(f.Optional("audit_log_keep", &keep, 0, 1000));
  config.audit_rotation = {static_cast<uint64_t>(max_bytes), static_cast<int>(keep)};
  std::string ledger = config.privacy_ledger.string();
  FEDRA_RETURN_IF_ERROR(f.Optional("privacy_ledger", &ledger));
  config.privacy_ledger = ResolvePath(base_dir, ledger);
  FEDRA_RETURN_IF_ERROR(ParseLimits(f, &config.limits));
  std::string gpu = "auto";
  FEDRA_RETURN_IF_ERROR(f.Optional("gpu", &gpu));
  if (gpu != "auto" && gpu != "off")
    return InvalidArgument(f.Path("gpu") + ": \"auto\" or \"off\", got \"" + gpu + "\"");
  config.gpu = gpu == "auto";
  std::string output;
  FEDRA_RETURN_IF_ERROR(f.Optional("output_folder", &output));
  if (!output.empty()) config.output_folder = ResolvePath(base_dir, output);
  if (const nlohmann::json* datasets = f.Child("datasets")) {
    if (!datasets->is_object()) return InvalidArgument(f.Path("datasets") + ": expected an object");
    for (const auto& [name, node] : datasets->items()) {
      DatasetSpec spec;
      FEDRA_RETURN_IF_ERROR(ParseDataset(name, node, f.Path("datasets") + "." + name, base_dir, &spec));
      config.datasets.emplace(name, std::move(spec));
    }
  }
  FEDRA_RETURN_IF_ERROR(f.Finish());
  return config;
}

Result<SiteConfig> LoadSiteConfig(const std::filesystem::path& path) {
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, LoadJsonFile(path));
  return ParseSiteConfig(doc, std::filesystem::absolute(path).parent_path(), path.filename().string());
}

}  // namespace fedra

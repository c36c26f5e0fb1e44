// A site agent's configuration (site.json): identity, listener, TLS kit, which masters may
// connect, limits, and the dataset catalog. Relative paths resolve against the file's folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/identity.h"
#include "common/status.h"
#include "federated/privacy.h"
#include "site-agent/audit_log.h"

namespace fedra {

// How a dp-aggregate dataset is released: its privacy budget and the range of each column, which
// values are clipped to when read and which the noise is calibrated to.
struct DpPolicy {
  double epsilon = 0;  // the whole budget, at `delta`
  double delta = 1e-6;
  double noise_multiplier = 4;             // noise = this x sensitivity, unless a request asks for more
  std::map<std::string, Interval> bounds;  // by column; "*" for every column not named
};

// The privacy budget a dataset grants DP training (DP-FedAvg rounds through secure sums): the
// site charges each round to its own ledger and refuses one that would pass it.
struct DpTrainingBudget {
  double epsilon = 0;  // 0: none declared, DP training refused
  double delta = 1e-5;
};

struct DatasetSpec {
  std::string name;
  std::filesystem::path path;  // never sent over the network
  std::string format = "csv";  // "csv", or "idx" (path: the items; labels: an optional label file)
  bool header = true;
  char delimiter = ',';
  PrivacyLevel privacy = PrivacyLevel::kPrivateAggregate;
  std::filesystem::path labels = {};  // idx: the labels' file, read as a last column "label"
  DpPolicy dp;                        // dp-aggregate only
  DpTrainingBudget dp_training;       // "dp_training": {"epsilon", "delta"}
  // private-aggregate: the owner lets masters train and score models on it (docs/privacy.md).
  bool allow_training = false;
  // csv: cells that mean "no value" (counted as missing when the site checks the file).
  std::vector<std::string> missing = {"", "NA", "NaN", "null"};
  // csv: column types the owner declares ("numeric", "categorical" or "boolean"), over what the
  // site infers from the cells: a zip code is a category though it reads as a number.
  std::map<std::string, std::string> types;
  // private-aggregate: what a transform's fit gets of a category fewer than min_aggregate_rows
  // rows hold: "other" (counted under "(other)", never named) or "refuse" (the fit is refused).
  std::string rare_categories = "other";
};

struct SiteLimits {
  // Largest frame accepted: a request batch's head, or one chunk of its values (which stream in
  // chunks, up to the memory budget).
  uint64_t max_message_bytes = 64u << 20;
  // The most a batch's answers to reads (get, audit, catalog, describe) may add up to; later ones
  // are refused. A master accepts 2 GiB by default.
  uint64_t max_response_bytes = 2ull << 30;
  uint64_t memory_budget_bytes = 4ull << 30;
  uint64_t min_aggregate_rows = 10;  // smallest aggregate of private-aggregate data to release
  int64_t min_secure_sum_sites = 3;  // fewest sites a secure sum of secure-aggregate data may cover
  int64_t read_timeout_s = 30;       // to read a message once it has started
  int64_t idle_timeout_s = 600;      // a connection with no message for this long is closed
};

struct SiteConfig {
  std::string name;
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 7000;  // 0 picks a free port (see --ready-file)
  TlsFiles tls;
  std::vector<std::string> allowed_masters;  // masters (certificate names) that may connect; empty: none
  std::filesystem::path audit_log = "audit.jsonl";
  AuditRotation audit_rotation;  // "audit_log_max_bytes", "audit_log_keep"
  std::filesystem::path privacy_ledger =
      "privacy-ledger.json";  // budgets spent and the site's secret (privacy_ledger.h)
  SiteLimits limits;
  bool gpu = true;  // "gpu": "auto" trains on the GPU when there is one; "off" always on the CPU
  // Where the site writes datasets that jobs ask it to keep as CSV (a saved model's predictions);
  // empty: nowhere, they stay in memory.
  std::filesystem::path output_folder;
  std::map<std::string, DatasetSpec> datasets;
};

// Loads and validates site.json; errors name the file and the field.
Result<SiteConfig> LoadSiteConfig(const std::filesystem::path& path);

// Validates a parsed document; `base_dir` anchors relative paths, `source` names it in errors.
Result<SiteConfig> ParseSiteConfig(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                   const std::string& source);

// site.json for `config` in `base_dir`: parses back to `config`.
nlohmann::ordered_json SiteConfigJson(const SiteConfig& config, const std::filesystem::path& base_dir);

}  // namespace fedra

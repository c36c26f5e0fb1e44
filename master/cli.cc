#include "master/cli.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/logging.h"
#include "master/api/rest_api.h"
#include "master/api/rest_server.h"
#include "master/federation/federation.h"
#include "master/federation/federation_config.h"
#include "master/federation/tls_federation.h"
#include "master/jobs/job.h"
#include "master/jobs/job_runner.h"
#include "master/jobs/run_recorder.h"
#include "master/tensor/federated_matrix.h"
#include "master/tracking/experiment_db.h"

namespace fedra {
namespace {

constexpr const char* kUsage = R"(Usage: fedra-master COMMAND [FLAGS]

The fedra master: holds metadata handles to data at the federation's sites and sends them
federated instructions over mutually authenticated TLS. Results are printed as JSON on stdout;
progress and errors go to stderr.

Commands:
  sites      ping every site and list its datasets (names, shapes, columns, privacy levels)
  summary    federated column sums, means and t(X) %*% X of a dataset across all sites
  run        run one job (JSON spec) and print its result, e.g.
               {"algorithm": "lm", "data": {"dataset": "housing", "label": "price"},
                "params": {"lambda": 0.001, "intercept": true}}
             algorithms: lm (direct solve; params lambda, intercept),
                         lmCG (conjugate gradient; params lambda, intercept, maxi, tolerance),
                         logreg (binomial or multinomial by the labels 0..K-1; L-BFGS;
                                 params lambda, intercept, tolerance, max_iterations),
                         kmeans (no label needed; params k, restarts, seed,
                                 max_iterations, tolerance),
                         pca (no label needed; params k, center, scale),
                         nn (training at the sites through the parameter server;
                             objects "model", "optimizer" and "ps" instead of params:
                             ps.strategy bsp|asp|ssp|backup, frequency epoch|batch,
                             aggregator fedavg|median|trimmed_mean, server_optimizer,
                             proximal_mu, compression, balance; see the README)
             "data": {"holdout": {"fraction": 0.2, "seed": 7}} also scores the model
             on rows each site holds out of training
  serve      serve the REST API (and dashboard) over HTTPS with the master's certificate,
             run submitted jobs in the background and record them in --db; stops
             cleanly on SIGTERM or Ctrl-C
  help       show this help

Flags:
  --federation PATH   the master's federation.json (from its startup kit)       [all commands]
  --dataset NAME      dataset name, as listed by the sites' catalogs             [summary]
  --columns A,B,...   columns to use (default: all)                              [summary]
  --job PATH          the job spec (JSON)                                        [run]
  --db PATH           record the job as a run in this experiment database
                      (SQLite; created when missing)                             [run]
  --experiment NAME   the run's experiment (default: "default")                 [run]
  --listen ADDR:PORT  where to serve HTTPS (default 127.0.0.1:8443; port 0: any)  [serve]
  --tokens PATH       API token file, "NAME ROLE SHA256" per line (default:
                      api-tokens next to federation.json; see fedra-provision)    [serve]
  --ready-file PATH   once listening, write the bound port to PATH               [serve]
  --web DIR           the dashboard's files (default: the build's web folder)    [serve]
  --timeout SECONDS   deadline for each site call (default: federation.json's)
  --log-level LEVEL   debug, info (default), warn or error

Exit status: 0 on success, 1 when the federation reports an error, 2 on bad usage.
)";

struct Flags {
  std::string command;
  std::string federation;
  std::string dataset;
  std::vector<std::string> columns;
  std::string job;
  std::string db;
  std::string experiment = "default";
  std::string listen = "127.0.0.1:8443";
  std::string tokens;
  std::string ready_file;
  std::string web = FEDRA_WEB_ROOT;
  int timeout_s = 0;
  std::string log_level = "info";
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  if (argc < 2) return InvalidArgument("no command given");
  flags.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--federation")
      flags.federation = value;
    else if (arg == "--dataset")
      flags.dataset = value;
    else if (arg == "--columns")
      flags.columns = SplitCommas(value);
    else if (arg == "--job")
      flags.job = value;
    else if (arg == "--db")
      flags.db = value;
    else if (arg == "--experiment")
      flags.experiment = value;
    else if (arg == "--listen")
      flags.listen = value;
    else if (arg == "--tokens")
      flags.tokens = value;
    else if (arg == "--ready-file")
      flags.ready_file = value;
    else if (arg == "--web")
      flags.web = value;
    else if (arg == "--log-level")
      flags.log_level = value;
    else if (arg == "--timeout") {
      try {
        flags.timeout_s = std::stoi(value);
      } catch (const std::exception&) {
        flags.timeout_s = 0;
      }
      if (flags.timeout_s <= 0) return InvalidArgument("--timeout expects a positive number of seconds");
    } else {
      return InvalidArgument("unknown flag '" + arg + "'");
    }
  }
  static const std::map<std::string, LogLevel> kLevels = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};
  auto level = kLevels.find(flags.log_level);
  if (level == kLevels.end()) return InvalidArgument("unknown log level '" + flags.log_level + "'");
  SetLogLevel(level->second);
  if (flags.federation.empty()) return InvalidArgument("--federation is required");
  return flags;
}

Result<FederationConfig> LoadConfig(const Flags& flags) {
  FEDRA_ASSIGN_OR_RETURN(FederationConfig config, LoadFederationConfig(flags.federation));
  if (flags.timeout_s > 0) config.call_timeout = std::chrono::seconds(flags.timeout_s);
  SetLogComponent("master " + config.name);
  return config;
}

Result<nlohmann::json> ListSites(Federation& fed) {
  SiteResponses responses = fed.CallAll({Request::Ping(), Request::ListCatalog()});
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& site : fed.site_names()) {
    const auto& r = responses.at(site);
    if (!r.ok()) {
      out.push_back({{"site", site}, {"online", false}, {"error", r.status().message()}});
    } else {
      const nlohmann::json& meta = (*r)[1].meta;
      out.push_back({{"site", site},
                     {"online", true},
                     {"datasets", meta["datasets"]},
                     {"variables", meta["variables"]},
                     {"memory_used_bytes", meta["memory_used_bytes"]},
                     {"memory_budget_bytes", meta["memory_budget_bytes"]}});
    }
  }
  return out;
}

Result<nlohmann::json> Summary(Federation& fed, const Flags& flags) {
  if (flags.dataset.empty()) return InvalidArgument("summary needs --dataset");
  const auto start = std::chrono::steady_clock::now();
  FEDRA_LOG(kInfo) << "reading '" << flags.dataset << "' at " << fed.site_names().size() << " sites";
  FEDRA_ASSIGN_OR_RETURN(FederatedMatrix x, FederatedMatrix::Read(fed, flags.dataset, flags.columns));
  Result<Matrix> sums = x.ColSums(fed);
  Result<Matrix> gram = sums.ok() ? x.TransposeSelfProduct(fed) : sums.status();
  if (!gram.ok()) return gram.status();

  nlohmann::json parts = nlohmann::json::array();
  for (const FederatedPart& p : x.map().parts()) {
    parts.push_back({{"site", p.site}, {"rows", {p.range.begin, p.range.end}}});
  }
  nlohmann::json col_sums = nlohmann::json::array(), col_means = nlohmann::json::array();
  for (int64_t j = 0; j < x.cols(); ++j) {
    col_sums.push_back((*sums)(0, j));
    col_means.push_back((*sums)(0, j) / static_cast<double>(x.rows()));
  }
  nlohmann::json gram_rows = nlohmann::json::array();
  for (int64_t i = 0; i < gram->rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < gram->cols(); ++j) row.push_back((*gram)(i, j));
    gram_rows.push_back(std::move(row));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return nlohmann::json{{"dataset", flags.dataset},    {"rows", x.rows()},      {"cols", x.cols()},
                        {"columns", x.column_names()}, {"partitioning", "row"}, {"parts", parts},
                        {"colSums", col_sums},         {"colMeans", col_means}, {"tXX", gram_rows},
                        {"seconds", seconds}};
}

Result<nlohmann::json> Run(Federation& fed, const Flags& flags) {
  if (flags.job.empty()) return InvalidArgument("run needs --job");
  FEDRA_ASSIGN_OR_RETURN(nlohmann::json doc, LoadJsonFile(flags.job));
  FEDRA_ASSIGN_OR_RETURN(JobSpec job, ParseJobSpec(doc, std::filesystem::path(flags.job).filename().string()));
  if (flags.db.empty()) return RunJob(fed, job);
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<ExperimentDb> db, ExperimentDb::Open(flags.db));
  FEDRA_ASSIGN_OR_RETURN(int64_t run, CreateJobRun(*db, job, doc, flags.experiment, "cli", RunStatus::kRunning));
  FEDRA_LOG(kInfo) << "recording as run " << run << " of experiment '" << flags.experiment << "' in " << flags.db;
  return RunRecordedJob(fed, *db, job, run);
}

Result<RestServerOptions> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  RestServerOptions options;
  int port = -1;
  if (colon != std::string::npos) {
    options.address = listen.substr(0, colon);
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535 || options.address.empty()) {
    return InvalidArgument("--listen expects ADDRESS:PORT, got '" + listen + "'");
  }
  options.port = static_cast<uint16_t>(port);
  return options;
}

Status Serve(Federation& fed, const TlsFiles& tls, const Flags& flags) {
  if (flags.db.empty()) return InvalidArgument("serve needs --db");
  FEDRA_ASSIGN_OR_RETURN(RestServerOptions options, ParseListen(flags.listen));
  const std::filesystem::path tokens_path = flags.tokens.empty()
                                                ? std::filesystem::path(flags.federation).parent_path() / "api-tokens"
                                                : std::filesystem::path(flags.tokens);
  FEDRA_ASSIGN_OR_RETURN(ApiTokens tokens, ApiTokens::Load(tokens_path));
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<ExperimentDb> db, ExperimentDb::Open(flags.db));
  JobRunner runner(fed, *db);
  RestApi api(fed, *db, runner, tokens);
  Result<StaticFiles> web = StaticFiles::Load(flags.web);
  if (!web.ok()) FEDRA_LOG(kWarn) << "the dashboard is not served: " << web.status().message();
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<RestServer> server,
                         RestServer::Create(options, tls, api, web.ok() ? &*web : nullptr));
  if (!flags.ready_file.empty()) {
    std::ofstream ready(flags.ready_file + ".tmp");
    ready << server->port() << "\n";
    ready.close();
    std::filesystem::rename(flags.ready_file + ".tmp", flags.ready_file);
  }
  FEDRA_LOG(kInfo) << "serving the REST API on https://" << options.address << ":" << server->port()
                   << "/api/v1/ (tokens from " << tokens_path.string() << ", runs in " << flags.db << ")";
  server->Run(/*handle_signals=*/true);
  FEDRA_LOG(kInfo) << "stopped serving";
  return Status::Ok();
}

}  // namespace

int RunMasterCli(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || (i == 1 && arg == "help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "fedra-master: %s\n\n%s", flags.status().message().c_str(), kUsage);
    return 2;
  }
  if (flags->command != "sites" && flags->command != "summary" && flags->command != "run" &&
      flags->command != "serve") {
    std::fprintf(stderr, "fedra-master: unknown command '%s'\n\n%s", flags->command.c_str(), kUsage);
    return 2;
  }
  Result<FederationConfig> config = LoadConfig(*flags);
  Result<std::unique_ptr<Federation>> fed = config.ok() ? ConnectFederation(*config) : config.status();
  if (!fed.ok()) {
    std::fprintf(stderr, "fedra-master: %s\n", fed.status().message().c_str());
    return 1;
  }
  if (flags->command == "serve") {
    Status served = Serve(**fed, config->tls, *flags);
    if (!served.ok()) {
      std::fprintf(stderr, "fedra-master: %s\n", served.message().c_str());
      return 1;
    }
    return 0;
  }
  Result<nlohmann::json> out = flags->command == "sites"     ? ListSites(**fed)
                               : flags->command == "summary" ? Summary(**fed, *flags)
                                                             : Run(**fed, *flags);
  // Variables the command released are cleared before the master exits.
  if (Status s = (*fed)->FlushReleases(); !s.ok()) FEDRA_LOG(kWarn) << "clearing site variables: " << s.message();
  if (!out.ok()) {
    std::fprintf(stderr, "fedra-master: %s\n", out.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", out->dump(2).c_str());
  return 0;
}

}  // namespace fedra

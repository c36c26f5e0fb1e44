#include "master/cli.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/listener.h"
#include "common/logging.h"
#include "master/api/rest_api.h"
#include "master/api/rest_server.h"
#include "master/federation/federation.h"
#include "master/federation/federation_config.h"
#include "master/federation/tls_federation.h"
#include "master/jobs/job.h"
#include "master/jobs/job_runner.h"
#include "master/jobs/model_job.h"
#include "master/jobs/registry.h"
#include "master/jobs/run_recorder.h"
#include "master/onnx/onnx_export.h"
#include "master/tensor/federated_matrix.h"
#include "master/tracking/experiment_db.h"

namespace fedra {
namespace {

constexpr const char* kDescription =
    R"(The fedra master: holds metadata handles to data at the federation's sites and sends them
federated instructions over mutually authenticated TLS. Results are printed as JSON on stdout;
progress and errors go to stderr.)";

constexpr const char* kJobExample = R"(A job spec, e.g.
  {"algorithm": "lm", "data": {"dataset": "housing", "label": "price"},
   "params": {"lambda": 0.001, "intercept": true}}
"data": {"holdout": {"fraction": 0.2, "seed": 7}} also scores the model on rows each site
holds out of training.

A script instead (analyses/ holds examples), with its arguments:
  fedra-master run --federation F --script analyses/lmCG.dml \
    --arg 1=sensors:pressure,load --arg 2=sensors:temperature --arg 3=FALSE --arg 4=w.txt

)";

constexpr const char* kExitStatus =
    "Exit status: 0 on success, 1 when the federation reports an error, 2 on bad usage.\n";

// The closing part of `fedra-master help`: the algorithms come from the registry.
std::string Footer() {
  return "Algorithms (a job's \"algorithm\"; parameters go in its \"params\" unless listed bare):\n" +
         AlgorithmHelp(2) + "\n" + kExitStatus;
}

// The dashboard installed next to this fedra-master (bin/../share/fedra/dashboard), else the
// build's.
std::string DefaultWebRoot() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path installed = exe.parent_path().parent_path() / "share" / "fedra" / "dashboard";
  if (!ec && std::filesystem::exists(installed / "index.html", ec)) return installed.string();
  return FEDRA_WEB_ROOT;
}

struct Flags {
  std::string federation;
  std::string dataset;
  std::vector<std::string> columns;
  std::string job;
  std::string script;
  std::vector<std::string> script_args;
  std::string db;
  std::string experiment = "default";
  std::string listen = "127.0.0.1:8443";
  std::string tokens;
  std::string ready_file;
  std::string web = DefaultWebRoot();
  int timeout_s = 0;
  LogLevel log_level = LogLevel::kInfo;
  std::string model;   // export: the saved model (JSON)...
  int64_t run = 0;     // ...or this run's, in --db
  std::string output;  // export: the ONNX file to write
};

// Writes the saved model in `flags.model`, or run `flags.run`'s in `flags.db`, as ONNX to
// `flags.output`.
Status ExportModel(const Flags& flags) {
  nlohmann::json saved;
  if (!flags.model.empty()) {
    FEDRA_ASSIGN_OR_RETURN(saved, LoadJsonFile(flags.model, size_t{1} << 30));
  } else {
    nlohmann::json doc = {{"algorithm", "predict"}, {"model", {{"run", flags.run}}}};
    // Reading only: runs a stopped server left scheduled stay so for it.
    FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<ExperimentDb> db,
                           ExperimentDb::Open(flags.db, ExperimentDb::LeftActive::kKeep));
    FEDRA_RETURN_IF_ERROR(ResolveSavedModel(*db, &doc));
    saved = std::move(doc["model"]);
  }
  Result<std::string> onnx = ExportOnnx(saved);
  if (!onnx.ok())
    return onnx.status().WithContext(flags.model.empty() ? "run " + std::to_string(flags.run) : flags.model);
  FEDRA_RETURN_IF_ERROR(WriteTextFile(flags.output, *onnx));
  std::printf("wrote %s (%zu bytes)\n", flags.output.c_str(), onnx->size());
  return Status::Ok();
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

// A script job from --script and --arg NAME=VALUE.
Result<nlohmann::json> ScriptJobDoc(const Flags& flags) {
  FEDRA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(flags.script));
  nlohmann::json args = nlohmann::json::object();
  for (const std::string& a : flags.script_args) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgument("--arg expects NAME=VALUE, got '" + a + "'");
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return nlohmann::json{{"script", text}, {"args", args}, {"name", std::filesystem::path(flags.script).filename()}};
}

// A script's writes, into the files they name below the working directory (a script passed
// around must not write anywhere else).
Status WriteOutputs(const nlohmann::json& result) {
  const nlohmann::json outputs = result.value("outputs", nlohmann::json::object());
  for (const auto& [target, text] : outputs.items()) {
    const std::filesystem::path path(target);
    if (path.is_absolute() || std::any_of(path.begin(), path.end(), [](const auto& part) { return part == ".."; })) {
      return InvalidArgument("write: '" + target + "': scripts write below the working directory (a relative path " +
                             "without '..')");
    }
    FEDRA_RETURN_IF_ERROR(WriteTextFile(target, text.get<std::string>()));
    FEDRA_LOG(kInfo) << "wrote " << target;
  }
  return Status::Ok();
}

Result<nlohmann::json> Run(Federation& fed, const Flags& flags) {
  const bool script = !flags.script.empty();
  nlohmann::json doc;
  if (script) {
    FEDRA_ASSIGN_OR_RETURN(doc, ScriptJobDoc(flags));
  } else {
    FEDRA_ASSIGN_OR_RETURN(doc, LoadJsonFile(flags.job));
  }
  const std::string source = std::filesystem::path(script ? flags.script : flags.job).filename().string();
  std::unique_ptr<ExperimentDb> db;
  if (!flags.db.empty()) {
    FEDRA_ASSIGN_OR_RETURN(db, ExperimentDb::Open(flags.db));
    FEDRA_RETURN_IF_ERROR(ResolveSavedModel(*db, &doc));
  }
  FEDRA_ASSIGN_OR_RETURN(JobSpec job, ParseJobSpec(doc, source));
  // A script's print lines go to stdout as they come, its writes to files; the rest to the log.
  if (script) {
    job.on_print = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
  }
  Result<nlohmann::json> result;
  if (!db) {
    result = RunJob(fed, job);
  } else {
    FEDRA_ASSIGN_OR_RETURN(int64_t run, CreateJobRun(*db, job, doc, flags.experiment, "cli", RunStatus::kRunning));
    FEDRA_LOG(kInfo) << "recording as run " << run << " of experiment '" << flags.experiment << "' in " << flags.db;
    result = RunRecordedJob(fed, *db, job, run);
    if (result.ok()) (*result)["run_id"] = run;  // what later jobs and exports name the model by
  }
  if (!result.ok() || !script) return result;
  FEDRA_RETURN_IF_ERROR(WriteOutputs(*result));
  FEDRA_LOG(kInfo) << source << ": " << (*result)["batches"] << " federated steps, " << (*result)["instructions"]
                   << " site instructions, " << (*result)["reused"] << " reused, " << (*result)["seconds"] << " s";
  return nlohmann::json();  // nothing more on stdout
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
  FEDRA_ASSIGN_OR_RETURN(RestServerOptions options, ParseListen(flags.listen));
  const std::filesystem::path tokens_path = flags.tokens.empty()
                                                ? std::filesystem::path(flags.federation).parent_path() / "api-tokens"
                                                : std::filesystem::path(flags.tokens);
  FEDRA_ASSIGN_OR_RETURN(ApiTokens tokens, ApiTokens::Load(tokens_path));
  // Runs a stopped master left active are taken up again, if no other master has the file open.
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<ExperimentDb> db,
                         ExperimentDb::Open(flags.db, ExperimentDb::LeftActive::kKeep));
  JobRunner runner(fed, *db);
  if (db->opened_alone()) FEDRA_RETURN_IF_ERROR(runner.TakeUpLeftActive());
  RestApi api(fed, *db, runner, tokens);
  Result<StaticFiles> web = StaticFiles::Load(flags.web);
  if (!web.ok()) FEDRA_LOG(kWarn) << "the dashboard is not served: " << web.status().message();
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<RestServer> server,
                         RestServer::Create(options, tls, api, web.ok() ? &*web : nullptr));
  if (!flags.ready_file.empty()) {
    if (Status s = WriteReadyFile(flags.ready_file, server->port()); !s.ok()) FEDRA_LOG(kWarn) << s.message();
  }
  FEDRA_LOG(kInfo) << "serving the REST API on https://" << options.address << ":" << server->port()
                   << "/api/v1/ (tokens from " << tokens_path.string() << ", runs in " << flags.db << ")";
  server->Run(/*handle_signals=*/true);
  FEDRA_LOG(kInfo) << "stopped serving";
  return Status::Ok();
}

}  // namespace

int RunMasterCli(int argc, char** argv) {
  Flags flags;
  CLI::App app(kDescription, "fedra-master");
  app.require_subcommand(1);
  // Flags every command takes.
  auto common = [&flags](CLI::App* command) {
    command->add_option("--federation", flags.federation, "the master's federation.json (from its startup kit)")
        ->required();
    command
        ->add_option("--timeout", flags.timeout_s,
                     "deadline for each site call, in seconds (default: "
                     "federation.json's)")
        ->check(CLI::PositiveNumber);
    command->add_option("--log-level", flags.log_level, "debug, info, warn or error")
        ->transform(CLI::CheckedTransformer(LogLevelsByName()))
        ->default_str("info");
    return command;
  };
  CLI::App* sites =
      common(app.add_subcommand("sites", "ping every site and list its datasets (names, shapes, columns, privacy)"));
  CLI::App* summary = common(app.add_subcommand("summary", "federated column sums, means and t(X) %*% X of a dataset"));
  summary->add_option("--dataset", flags.dataset, "dataset name, as listed by the sites' catalogs")->required();
  summary->add_option("--columns", flags.columns, "columns to use, comma-separated (default: all)")->delimiter(',');
  CLI::App* run = common(app.add_subcommand(
      "run", "run one job (a JSON spec) and print its result, or a script, printing what it prints"));
  CLI::Option* job = run->add_option("--job", flags.job, "the job spec (JSON)");
  CLI::Option* script =
      run->add_option("--script", flags.script, "a script (DML/R-like, see analyses/) to run instead of a job")
          ->excludes(job);
  run->add_option("--arg", flags.script_args,
                  "a script argument NAME=VALUE, read as $NAME ($1 for 1=...); repeat for more")
      ->needs(script);
  run->add_option("--db", flags.db,
                  "record the job as a run in this experiment database (SQLite; created when missing)");
  run->add_option("--experiment", flags.experiment, "the run's experiment")->capture_default_str();
  CLI::App* serve = common(app.add_subcommand(
      "serve",
      "serve the REST API and dashboard over HTTPS with the master's certificate, run submitted jobs in "
      "the background and record them in --db; stops cleanly on SIGTERM or Ctrl-C"));
  serve->add_option("--db", flags.db, "the experiment database (SQLite; created when missing)")->required();
  serve->add_option("--listen", flags.listen, "where to serve HTTPS, ADDRESS:PORT (port 0: any free one)")
      ->capture_default_str();
  serve->add_option("--tokens", flags.tokens,
                    "API token file, \"NAME ROLE SHA256\" per line (default: api-tokens next to federation.json)");
  serve->add_option("--ready-file", flags.ready_file, "once listening, write the bound port to this file");
  serve->add_option("--web", flags.web, "the dashboard's files")->capture_default_str();
  CLI::App* export_model = app.add_subcommand(
      "export", "write a saved model (GET .../runs/{id}/models/model) as ONNX, with its data transform");
  CLI::Option* model_file =
      export_model->add_option("--model", flags.model, "the saved model (JSON)")->check(CLI::ExistingFile);
  CLI::Option* model_run =
      export_model->add_option("--run", flags.run, "...or the model of this run in --db")->excludes(model_file);
  export_model->add_option("--db", flags.db, "the experiment database holding --run")
      ->check(CLI::ExistingFile)
      ->needs(model_run);
  model_run->needs("--db");
  export_model->add_option("--output", flags.output, "the ONNX file to write")->required();
  CLI::App* help = app.add_subcommand("help", "show this help");
  app.footer(Footer());  // set after the subcommands, which would inherit it; only run needs it
  run->footer(kJobExample + Footer());
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);  // after a command: that command's help
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fedra-master: %s\nSee 'fedra-master help' or 'fedra-master COMMAND --help'.\n", e.what());
    return 2;
  }
  if (run->parsed() && flags.job.empty() && flags.script.empty()) {
    std::fprintf(stderr, "fedra-master: run needs --job FILE or --script FILE\nSee 'fedra-master run --help'.\n");
    return 2;
  }
  if (export_model->parsed() && flags.model.empty() && flags.run == 0) {
    std::fprintf(stderr, "fedra-master: export needs --model FILE or --db FILE --run ID\n");
    return 2;
  }
  if (help->parsed()) {
    app.clear();  // the whole tool's help, not the help command's
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  SetLogLevel(flags.log_level);
  if (export_model->parsed()) {  // needs no federation
    if (Status s = ExportModel(flags); !s.ok()) {
      std::fprintf(stderr, "fedra-master: %s\n", s.message().c_str());
      return 1;
    }
    return 0;
  }
  Result<FederationConfig> config = LoadConfig(flags);
  Result<std::unique_ptr<Federation>> fed = config.ok() ? ConnectFederation(*config) : config.status();
  if (!fed.ok()) {
    std::fprintf(stderr, "fedra-master: %s\n", fed.status().message().c_str());
    return 1;
  }
  if (serve->parsed()) {
    Status served = Serve(**fed, config->tls, flags);
    if (!served.ok()) {
      std::fprintf(stderr, "fedra-master: %s\n", served.message().c_str());
      return 1;
    }
    return 0;
  }
  Result<nlohmann::json> out = sites->parsed()     ? ListSites(**fed)
                               : summary->parsed() ? Summary(**fed, flags)
                                                   : Run(**fed, flags);
  // Variables the command released are cleared before the master exits.
  if (Status s = (*fed)->FlushReleases(); !s.ok()) FEDRA_LOG(kWarn) << "clearing site variables: " << s.message();
  if (!out.ok()) {
    std::fprintf(stderr, "fedra-master: %s\n", out.status().message().c_str());
    return 1;
  }
  if (!out->is_null()) std::printf("%s\n", out->dump(2).c_str());
  return 0;
}

}  // namespace fedra

// fedra-site: the site agent. Parses flags (CLI11), loads site.json, serves until SIGTERM;
// `fedra-site init` creates the site's key and certificate request for enrollment;
// `fedra-site check` checks a configuration and its datasets without serving.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "common/allocator.h"
#include "common/listener.h"
#include "common/logging.h"
#include "common/tls.h"
#include "provision/provisioner.h"
#include "site-agent/blas.h"
#include "site-agent/catalog.h"
#include "site-agent/gpu_trainer.h"
#include "site-agent/site_server.h"

namespace {

constexpr const char* kDescription =
    R"(Runs a fedra site agent: serves this site's datasets to the federation's masters over mutually
authenticated TLS 1.3, under the privacy levels set in site.json, and appends every request to
the audit log named there. Stops cleanly on SIGTERM or SIGINT.)";

struct InitFlags {
  std::string dir, name, federation;
};

// Enrollment's first step: the key stays here, the request goes to the CA's operator.
int RunInit(const InitFlags& flags) {
  fedra::Result<fedra::provision::EnrollmentFiles> files =
      fedra::provision::CreateEnrollment(flags.dir, flags.name, flags.federation);
  if (!files.ok()) {
    std::fprintf(stderr, "fedra-site: init: %s\n", files.status().message().c_str());
    return files.status().code() == fedra::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf(
      "created key %s (mode 0600; it stays at this site)\n"
      "created request %s: send it to the federation's CA operator, who runs\n"
      "  fedra-provision sign --out DIR --request request.csr --site-address HOST:PORT\n"
      "and sends back the kit folder site-%s; put key.pem into it and start with --config site.json\n",
      files->key.c_str(), files->request.c_str(), flags.name.c_str());
  return 0;
}

// A health check before (or instead of) serving: the configuration loads, the certificate and key
// do (a key others may read is refused), and every dataset reads. Exit 0 when all is well, 1
// when something is not; warnings alone do not fail it.
int RunCheck(const std::string& config_path) {
  fedra::Result<fedra::SiteConfig> config = fedra::LoadSiteConfig(config_path);
  if (!config.ok()) {
    std::printf("config: %s\n", config.status().message().c_str());
    return 1;
  }
  std::printf("config: site '%s', listening on %s:%u, %zu dataset(s)\n", config->name.c_str(),
              config->listen_address.c_str(), static_cast<unsigned>(config->listen_port), config->datasets.size());
  int failed = 0;
  if (auto tls = fedra::MakeTlsContext(config->tls, fedra::TlsSide::kServer); !tls.ok()) {
    std::printf("tls: %s\n", tls.status().message().c_str());
    ++failed;
  } else {
    std::printf("tls: certificate, key and CA load\n");
  }
  // The audit log and ledger must be writable where they are (as the user who runs the check).
  for (const auto& [what, path] :
       {std::pair{"audit_log", config->audit_log}, {"privacy_ledger", config->privacy_ledger}}) {
    const std::filesystem::path folder = path.parent_path().empty() ? "." : path.parent_path();
    if (::access(folder.c_str(), W_OK) != 0) {
      std::printf("%s: cannot write in %s: %s\n", what, folder.c_str(), std::strerror(errno));
      ++failed;
    }
  }
  fedra::Catalog catalog(config->datasets);
  catalog.Probe();
  for (const nlohmann::json& d : catalog.List()) {
    if (d.contains("error")) {
      std::printf("dataset '%s': cannot be read: %s\n", d.value("name", "").c_str(), d.value("error", "").c_str());
      ++failed;
      continue;
    }
    std::printf("dataset '%s': %lld rows x %zu columns, %s\n", d.value("name", "").c_str(),
                static_cast<long long>(d.value("rows", int64_t{0})), d["columns"].size(),
                d.value("privacy", "").c_str());
    for (const auto& w : d.value("warnings", std::vector<std::string>{})) std::printf("  warning: %s\n", w.c_str());
  }
  if (config->allowed_masters.empty()) std::printf("warning: allowed_masters is empty: no master may connect\n");
  std::printf("compute: OpenBLAS's %s kernels; GPU: %s\n", fedra::BlasKernels().c_str(),
              config->gpu ? fedra::ProbeGpu().description.c_str() : "off in the configuration");
  if (const std::string warning = fedra::BlasKernelWarning(); !warning.empty()) {
    std::printf("warning: %s\n", warning.c_str());
  }
  std::printf(failed ? "not healthy: %d problem(s)\n" : "healthy\n", failed);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  fedra::KeepFreedMemoryForReuse();
  std::string config_path, ready_file;
  fedra::LogLevel level = fedra::LogLevel::kInfo;
  CLI::App app(kDescription, "fedra-site");
  app.add_option("--config", config_path, "the site's configuration (from its startup kit; see README)");
  app.add_option("--ready-file", ready_file, "once listening, write the bound port to this file (for \"port\": 0)");
  app.add_option("--log-level", level, "debug, info, warn or error")
      ->transform(CLI::CheckedTransformer(fedra::LogLevelsByName()))
      ->default_str("info");
  InitFlags init_flags;
  CLI::App* init = app.add_subcommand(
      "init", "create this site's private key and certificate request, so that its key never leaves it");
  init->add_option("--dir", init_flags.dir, "folder for key.pem (mode 0600) and request.csr; created if missing")
      ->required();
  init->add_option("--name", init_flags.name, "this site's name, as the federation knows it")->required();
  init->add_option("--federation", init_flags.federation, "the federation's name (its CA's)")->required();
  CLI::App* check =
      app.add_subcommand("check", "check --config and every dataset it lists, without serving; exit 0 when healthy");
  check->fallthrough();  // --config may follow the subcommand's name
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
    if (!init->parsed() && config_path.empty()) throw CLI::RequiredError("--config");
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fedra-site: %s\nSee 'fedra-site --help'.\n", e.what());
    return 2;
  }
  if (init->parsed()) return RunInit(init_flags);
  fedra::SetLogLevel(check->parsed() ? fedra::LogLevel::kError : level);
  if (check->parsed()) return RunCheck(config_path);

  fedra::Result<fedra::SiteConfig> config = fedra::LoadSiteConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "fedra-site: %s\n", config.status().message().c_str());
    return 1;
  }
  fedra::SetLogComponent("site " + config->name);
  fedra::Result<std::unique_ptr<fedra::SiteServer>> server = fedra::SiteServer::Create(*config);
  if (!server.ok()) {
    FEDRA_LOG(kError) << server.status().message();
    return 1;
  }
  if (!ready_file.empty()) {
    if (fedra::Status s = fedra::WriteReadyFile(ready_file, (*server)->port()); !s.ok()) {
      FEDRA_LOG(kError) << s.message();
      return 1;
    }
  }
  (*server)->Run(/*handle_signals=*/true);
  return 0;
}

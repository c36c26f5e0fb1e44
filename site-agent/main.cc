// fedra-site: the site agent. Parses flags (CLI11), loads site.json, serves until SIGTERM.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "common/allocator.h"
#include "common/listener.h"
#include "common/logging.h"
#include "site-agent/site_server.h"

namespace {

constexpr const char* kDescription =
    R"(Runs a fedra site agent: serves this site's datasets to the federation's masters over mutually
authenticated TLS 1.3, under the privacy levels set in site.json, and appends every request to
the audit log named there. Stops cleanly on SIGTERM or SIGINT.)";

}  // namespace

int main(int argc, char** argv) {
  fedra::KeepFreedMemoryForReuse();
  std::string config_path, ready_file;
  fedra::LogLevel level = fedra::LogLevel::kInfo;
  CLI::App app(kDescription, "fedra-site");
  app.add_option("--config", config_path, "the site's configuration (from its startup kit; see README)")->required();
  app.add_option("--ready-file", ready_file, "once listening, write the bound port to this file (for \"port\": 0)");
  app.add_option("--log-level", level, "debug, info, warn or error")
      ->transform(CLI::CheckedTransformer(fedra::LogLevelsByName()))
      ->default_str("info");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fedra-site: %s\nSee 'fedra-site --help'.\n", e.what());
    return 2;
  }
  fedra::SetLogLevel(level);

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

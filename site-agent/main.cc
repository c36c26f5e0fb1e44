// fedra-site: the site agent. Parses flags, loads site.json, serves until SIGTERM.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/allocator.h"
#include "common/logging.h"
#include "site-agent/site_server.h"

namespace {

constexpr const char* kUsage = R"(Usage: fedra-site --config site.json [--ready-file PATH] [--log-level LEVEL]

Runs a fedra site agent: serves this site's datasets to the federation's masters over mutually
authenticated TLS 1.3, under the privacy levels set in site.json, and appends every request to
the audit log named there.

  --config PATH      the site's configuration (from its startup kit; see README)
  --ready-file PATH  once listening, write the bound port to PATH (useful with "port": 0)
  --log-level LEVEL  debug, info (default), warn or error
  --help             show this help

Stops cleanly on SIGTERM or SIGINT.
)";

bool WriteReadyFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // atomic: readers never see a partial file
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  fedra::KeepFreedMemoryForReuse();
  std::string config_path, ready_file, level = "info";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "fedra-site: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      *out = argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--config") {
      value(&config_path);
    } else if (arg == "--ready-file") {
      value(&ready_file);
    } else if (arg == "--log-level") {
      value(&level);
    } else {
      std::fprintf(stderr, "fedra-site: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "fedra-site: --config is required\n%s", kUsage);
    return 2;
  }
  if (level == "debug")
    fedra::SetLogLevel(fedra::LogLevel::kDebug);
  else if (level == "warn")
    fedra::SetLogLevel(fedra::LogLevel::kWarn);
  else if (level == "error")
    fedra::SetLogLevel(fedra::LogLevel::kError);
  else if (level != "info") {
    std::fprintf(stderr, "fedra-site: unknown log level '%s'\n", level.c_str());
    return 2;
  }

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
  if (!ready_file.empty() && !WriteReadyFile(ready_file, (*server)->port())) {
    FEDRA_LOG(kError) << "cannot write ready file " << ready_file;
    return 1;
  }
  (*server)->Run(/*handle_signals=*/true);
  return 0;
}

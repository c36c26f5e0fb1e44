// The dashboard in a real headless browser (Debian's Chromium through playwright-core, both
// installed by scripts/install-deps) against a real `fedra-master serve`: the scenario itself is
// tests/browser/dashboard_test.mjs. Skips, saying why, when the browser or node is missing.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>

#include "tests/support/serving_master.h"

namespace fedra {
namespace {

// base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what Chromium pins.
std::string SpkiPin(const std::filesystem::path& cert_path) {
  FILE* f = std::fopen(cert_path.c_str(), "r");
  REQUIRE(f);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(cert);
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  X509_free(cert);
  unsigned char b64[4 * EVP_MAX_MD_SIZE];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

std::string MissingTool() {
  if (!std::filesystem::exists("/usr/bin/chromium")) return "/usr/bin/chromium is not installed";
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!std::filesystem::exists(std::filesystem::path(FEDRA_WEB_DEPS) / "node_modules" / "playwright-core")) {
    return "playwright-core is not in " FEDRA_WEB_DEPS " (npm was missing at build time)";
  }
  if (!std::filesystem::exists(std::filesystem::path(FEDRA_WEB_ROOT) / "vendor" / "chart.umd.js")) {
    return "the dashboard's assets were not built";
  }
  return "";
}

}  // namespace

TEST_CASE(
    "the dashboard: log in, pick columns, compare runs, follow and cancel a job, submit one, in headless Chromium") {
  if (const std::string missing = MissingTool(); !missing.empty()) {
    MESSAGE("skipped: " << missing << " (scripts/install-deps installs it)");
    return;
  }
  testing::ServingMaster s;
  testing::HttpsClient op = s.Client(s.operator_token);
  Result<testing::HttpReply> submitted =
      op.Post("/api/v1/jobs",
              {{"algorithm", "lmCG"}, {"experiment", "housing"}, {"data", {{"dataset", "reg"}, {"label", "y"}}}});
  REQUIRE(submitted.ok());
  REQUIRE(submitted->status == 201);
  const int64_t run = submitted->Json()["run_id"];
  REQUIRE(s.WaitForEnd(op, run)["info"]["status"] == "finished");
  // A second run to compare with, and a long one to follow and cancel.
  submitted = op.Post("/api/v1/jobs", {{"algorithm", "lmCG"},
                                       {"experiment", "housing"},
                                       {"data", {{"dataset", "reg"}, {"label", "y"}}},
                                       {"params", {{"lambda", 5}}}});
  REQUIRE(submitted.ok());
  REQUIRE(submitted->status == 201);
  const int64_t second = submitted->Json()["run_id"];
  REQUIRE(s.WaitForEnd(op, second)["info"]["status"] == "finished");
  submitted = op.Post("/api/v1/jobs",
                      {{"algorithm", "kmeans"},
                       {"experiment", "long"},
                       {"data", {{"dataset", "noise"}}},
                       {"params", {{"k", 30}, {"restarts", 20}, {"tolerance", 0}, {"max_iterations", 100000}}}});
  REQUIRE(submitted.ok());
  REQUIRE(submitted->status == 201);
  const int64_t long_run = submitted->Json()["run_id"];
  Result<testing::HttpReply> history =
      op.Get("/api/v1/runs/" + std::to_string(run) + "/metrics/residual_norm2?max_points=500");
  REQUIRE(history.ok());
  const size_t points = history->Json()["metrics"].size();
  REQUIRE(points >= 2);

  std::filesystem::create_directories(FEDRA_ARTIFACTS);
  const std::filesystem::path screenshot = std::filesystem::path(FEDRA_ARTIFACTS) / "dashboard.png";
  std::filesystem::remove(screenshot);
  const nlohmann::json config = {{"url", "https://localhost:" + std::to_string(s.port)},
                                 {"viewer_token", s.viewer_token},
                                 {"operator_token", s.operator_token},
                                 {"spki", SpkiPin(s.cert())},
                                 {"chromium", "/usr/bin/chromium"},
                                 {"node_modules", std::string(FEDRA_WEB_DEPS) + "/node_modules"},
                                 {"screenshot", screenshot.string()},
                                 {"experiment", "housing"},
                                 {"run_id", run},
                                 {"second_run", second},
                                 {"long_run", long_run},
                                 {"metric", "residual_norm2"},
                                 {"points", points},
                                 {"dataset", "reg"},
                                 {"label", "y"}};
  testing::WriteFile(s.dir / "browser.json", config.dump());
  const std::string log = (s.dir / "browser.log").string();
  const std::string cmd = "node '" FEDRA_SOURCE_DIR "/tests/browser/dashboard_test.mjs' '" +
                          (s.dir / "browser.json").string() + "' > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  CHECK_MESSAGE(rc == 0, testing::ReadFile(log));
  MESSAGE(testing::ReadFile(log));
  CHECK(std::filesystem::exists(screenshot));
}

}  // namespace fedra

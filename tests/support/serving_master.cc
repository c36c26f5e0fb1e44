#include "tests/support/serving_master.h"

#include <doctest/doctest.h>

#include <random>

#include "provision/provisioner.h"
#include "tests/support/random_data.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {
namespace {

Matrix Regression(int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> x(0, 1), noise(0, 0.1);
  Matrix m(rows, 3);
  for (int i = 0; i < rows; ++i) {
    m(i, 0) = x(rng);
    m(i, 1) = x(rng);
    m(i, 2) = 1 + 2 * m(i, 0) - m(i, 1) + noise(rng);
  }
  return m;
}

}  // namespace

ServingMaster::ServingMaster() {
  local.AddSplitCsvDataset("reg", Regression(300, 1), {120, 180}, {"u", "v", "y"}, "private-aggregate");
  local.AddSplitCsvDataset("noise", UniformMatrix(60000, 4, 2), {25000, 35000}, {"p", "q", "r", "s"}, "public");
  // Site a's export, written with semicolons: listed with a hint; and a file that went missing.
  WriteFile(local.kit("a") / "export.csv", "id;amount\n1;2.5\n");
  local.AddDataset("a", "export", "export.csv", "private-aggregate");
  local.AddDataset("a", "gone", "gone.csv", "private-aggregate");
  local.StartAll();
  // Tokens from provisioning, into the existing master kit.
  provision::ProvisionRequest tokens;
  tokens.out = dir.path();
  tokens.masters = {"m"};
  tokens.tokens = {{"op", "operator"}, {"view", "viewer"}};
  const Result<provision::ProvisionReport> issued = provision::Provision(tokens);
  REQUIRE_MESSAGE(issued.ok(), issued.status().message());
  auto read_token = [&](const char* name) {
    std::string t = ReadFile(local.master_kit() / "tokens" / (std::string(name) + ".token"));
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  };
  operator_token = read_token("op");
  viewer_token = read_token("view");
  StartMaster();
}

void ServingMaster::StartMaster() {
  std::filesystem::remove(dir / "ready");
  const auto federation = local.WriteFederationJson(dir / "federation.json");
  master = ChildProcess({FEDRA_MASTER_BIN, "serve", "--federation", federation.string(), "--db",
                         (dir / "fedra.db").string(), "--listen", "127.0.0.1:0", "--tokens",
                         (local.master_kit() / "api-tokens").string(), "--ready-file", (dir / "ready").string()},
                        dir / "master.log");
  REQUIRE_MESSAGE(WaitFor([&] { return std::filesystem::exists(dir / "ready"); }, std::chrono::seconds(20)),
                  ReadFile(dir / "master.log"));
  port = static_cast<uint16_t>(std::stoi(ReadFile(dir / "ready")));
}

HttpsClient ServingMaster::Client(const std::string& token) const { return HttpsClient(ca(), port, token); }

nlohmann::json ServingMaster::WaitForEnd(HttpsClient& client, int64_t run) const {
  nlohmann::json last;
  const bool ended = WaitFor(
      [&] {
        Result<HttpReply> r = client.Get("/api/v1/jobs/" + std::to_string(run));
        if (!r.ok() || r->status != 200) return false;
        last = r->Json()["run"];
        const std::string status = last["info"]["status"];
        return status != "scheduled" && status != "running";
      },
      std::chrono::seconds(60));
  REQUIRE_MESSAGE(ended, last.dump());
  return last;
}

}  // namespace fedra::testing

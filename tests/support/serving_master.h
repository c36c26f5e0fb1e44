// A real `fedra-master serve` process over a two-site loopback federation, for REST and browser
// tests: datasets "reg" (regression: u, v, y; private-aggregate) and "noise" (60,000 uniform
// rows; public, slow to cluster), an operator and a viewer token from the real provisioning tool,
// and a fresh experiment database.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.h"
#include "tests/support/https_client.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra::testing {

class ServingMaster {
 public:
  ServingMaster();

  // Starts `fedra-master serve` on the federation and database (again, after it stopped), and
  // waits until it listens; `port` is then its port.
  void StartMaster();
  HttpsClient Client(const std::string& token) const;
  // Waits (up to a minute) until the run has ended; returns its run resource.
  nlohmann::json WaitForEnd(HttpsClient& client, int64_t run) const;
  std::filesystem::path ca() const { return local.master_kit() / "ca.crt"; }
  std::filesystem::path cert() const { return local.master_kit() / "cert.pem"; }

  TempDir dir;
  LocalFederation local{dir.path(), {"a", "b"}};
  ChildProcess master;
  uint16_t port = 0;
  std::string operator_token, viewer_token;
};

}  // namespace fedra::testing

// Every certificate rule against a running site, each broken on purpose: no client certificate,
// a certificate from another federation's CA, a site's certificate posing as the master, a site
// whose certificate names another site, and a private key readable by others.
#include <doctest/doctest.h>

#include <filesystem>

#include "master/federation/tls_federation.h"
#include "tests/support/local_federation.h"
#include "tests/support/raw_client.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::RawClient;
using testing::TempDir;

TlsFiles Kit(const std::filesystem::path& dir) { return {dir / "cert.pem", dir / "key.pem", dir / "ca.crt"}; }

// True once `file` contains `text`: the site records a refusal just after the client sees it.
bool EventuallyContains(const std::filesystem::path& file, const std::string& text) {
  return testing::WaitFor([&] { return testing::ReadFile(file).find(text) != std::string::npos; },
                          std::chrono::seconds(5));
}

// A ping over a raw connection: ok only if the site accepted us and answered.
Status Ping(const TlsFiles& files, uint16_t port) {
  RawClient client(files, port, std::chrono::seconds(5));
  FEDRA_RETURN_IF_ERROR(client.Connect());
  Result<ResponseBatch> r = client.Call(RequestBatch{1, {Request::Ping()}});
  return r.status();
}

}  // namespace

TEST_CASE("a running site accepts only its federation's masters") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.StartAll();
  const uint16_t port = local.port("a");

  SUBCASE("the federation's master is accepted") { CHECK(Ping(Kit(local.master_kit()), port).ok()); }
  SUBCASE("no client certificate is refused") {
    TlsFiles none = Kit(local.master_kit());
    none.cert.clear();
    none.key.clear();
    Status s = Ping(none, port);
    CHECK_FALSE(s.ok());
    CHECK(EventuallyContains(local.audit_log("a"), "\"request\":\"connect\""));
  }
  SUBCASE("a master certificate from another CA is refused") {
    TempDir other_dir;
    LocalFederation other(other_dir.path(), {"a"});
    TlsFiles foreign = Kit(other.master_kit());
    foreign.ca = local.master_kit() / "ca.crt";  // trust the real site, present a foreign cert
    Status s = Ping(foreign, port);
    CHECK_FALSE(s.ok());
    CHECK(EventuallyContains(local.log("a"), "refused connection"));
  }
  SUBCASE("a site's certificate posing as the master is refused at the handshake") {
    // Site certificates carry only the serverAuth purpose, so TLS verification itself refuses
    // one presented by a client; the role check behind it is tested below with CheckPeer.
    Status s = Ping(Kit(local.kit("b")), port);
    CHECK_FALSE(s.ok());
    CHECK(EventuallyContains(local.audit_log("a"), "\"allowed\":false"));
    CHECK(EventuallyContains(local.audit_log("a"), "certificate"));
  }
  // After every refusal the site still serves its master.
  CHECK(Ping(Kit(local.master_kit()), port).ok());
}

TEST_CASE("peers are checked for role and name, not only the CA signature") {
  const PeerIdentity site_b{"site", "b", "fedra federation test"};
  CHECK(CheckPeer(site_b, "site", "b").ok());
  Status role = CheckPeer(site_b, "master", "");
  CHECK(role.code() == StatusCode::kPermissionDenied);
  CHECK(role.message() == "peer certificate is for site 'b', expected a master");
  CHECK(CheckPeer(site_b, "site", "a").message() == "peer certificate is for site 'b', expected site 'a'");
}

TEST_CASE("allowed_masters narrows which masters a site accepts") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a"});
  local.EditConfig("a", [](nlohmann::json& c) { c["allowed_masters"] = {"someone-else"}; });
  local.StartAll();
  Status s = Ping(Kit(local.master_kit()), local.port("a"));
  CHECK(s.code() == StatusCode::kPermissionDenied);
  CHECK(s.message().find("not in this site's allowed_masters") != std::string::npos);
}

TEST_CASE("the master refuses a site whose certificate names another site") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a", "b"});
  local.StartAll();
  FederationConfig config = local.MasterConfig(std::chrono::seconds(5));
  config.sites[0].port = local.port("b");  // "a" now points at b's listener
  auto fed = ConnectFederation(config);
  REQUIRE(fed.ok());
  Status s = FirstError((*fed)->CallAll({Request::Ping()}));
  CHECK(s.code() == StatusCode::kPermissionDenied);
  CHECK(s.message().find("site 'a'") != std::string::npos);
  CHECK(s.message().find("certificate is for site 'b', expected site 'a'") != std::string::npos);
}

TEST_CASE("a private key readable by others is refused") {
  TempDir dir;
  LocalFederation local(dir.path(), {"a"});
  const auto key = local.kit("a") / "key.pem";
  std::filesystem::permissions(key, std::filesystem::perms::group_read | std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto ctx = MakeTlsContext(Kit(local.kit("a")), TlsSide::kServer);
  CHECK(ctx.status().code() == StatusCode::kPermissionDenied);
  CHECK(ctx.status().message().find("chmod 600") != std::string::npos);
  CHECK_THROWS_WITH_AS(local.Start("a"), doctest::Contains("accessible by group or others"), std::runtime_error);
}

}  // namespace fedra

// Provisioning in this process, checked with OpenSSL's own verifier: kits that verify against
// their CA and name their participant, file modes, re-runs that change nothing, federation
// mismatch, and site enrollment with every request the CA must refuse.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/certificates.h"
#include "provision/certificates.h"
#include "provision/files.h"
#include "provision/provisioner.h"
#include "tests/support/temp_dir.h"

namespace fedra::provision {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

using StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using StoreContextPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;

// ------------------------------------------------------------------ reading what was written

std::string Contents(const fs::path& file) {
  Result<std::string> text = ReadSmallFile(file);
  REQUIRE_MESSAGE(text.ok(), text.status().ToString());
  return *text;
}

CertPtr ReadCert(const fs::path& file) {
  Result<CertPtr> cert = ParseCertificatePem(Contents(file));
  REQUIRE_MESSAGE(cert.ok(), cert.status().ToString());
  return std::move(cert).value();
}

KeyPtr ReadKey(const fs::path& file) {
  Result<KeyPtr> key = ParsePrivateKeyPem(Contents(file));
  REQUIRE_MESSAGE(key.ok(), key.status().ToString());
  return std::move(key).value();
}

// An ASN.1 time (a certificate's dates) on the system clock.
std::chrono::system_clock::time_point TimeOf(const ASN1_TIME* time) {
  std::tm parts{};
  REQUIRE(ASN1_TIME_to_tm(time, &parts) == 1);
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Every path under `dir` with its mode, and every file's bytes.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> snapshot;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    const std::string mode = std::to_string(ModeOf(entry.path()));
    snapshot[entry.path().string()] = entry.is_regular_file() ? mode + ":" + Contents(entry.path()) : mode;
  }
  return snapshot;
}

bool HasLineStartingWith(const ProvisionReport& report, const std::string& prefix) {
  return std::any_of(report.lines.begin(), report.lines.end(),
                     [&](const std::string& line) { return line.starts_with(prefix); });
}

// ------------------------------------------------------------------ certificate checks

// X509_verify_cert with `ca` as the only trust anchor, for `purpose` (X509_PURPOSE_SSL_SERVER...).
bool Verifies(X509* ca, X509* leaf, int purpose) {
  StorePtr store(X509_STORE_new());
  StoreContextPtr context(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca) == 1);
  REQUIRE(X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr) == 1);
  REQUIRE(X509_STORE_CTX_set_purpose(context.get(), purpose) == 1);
  return X509_verify_cert(context.get()) == 1;
}

std::string SubjectField(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)), ASN1_STRING_length(data));
}

std::vector<int> ExtendedKeyUsages(X509* cert) {
  std::vector<int> nids;
  auto* usages = static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr));
  for (int i = 0; usages && i < sk_ASN1_OBJECT_num(usages); ++i) {
    nids.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(usages, i)));
  }
  EXTENDED_KEY_USAGE_free(usages);
  return nids;
}

// "DNS:name" and "IP:address" entries, in order.
std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> names;
  auto* general = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; general && i < sk_GENERAL_NAME_num(general); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(general, i);
    if (name->type == GEN_DNS) {
      names.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                                           ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD && ASN1_STRING_length(name->d.iPAddress) == 4) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, ASN1_STRING_get0_data(name->d.iPAddress), text, sizeof(text));
      names.push_back("IP:" + std::string(text));
    } else {
      names.push_back("other");
    }
  }
  GENERAL_NAMES_free(general);
  return names;
}

// The basicConstraints extension as "critical CA:TRUE pathlen:0" or "critical CA:FALSE".
std::string BasicConstraints(X509* cert) {
  int critical = -1;
  auto* constraints =
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_basic_constraints, &critical, nullptr));
  if (!constraints) return "missing";
  std::string text = std::string(critical == 1 ? "critical " : "") + (constraints->ca ? "CA:TRUE" : "CA:FALSE");
  if (constraints->pathlen) text += " pathlen:" + std::to_string(ASN1_INTEGER_get(constraints->pathlen));
  BASIC_CONSTRAINTS_free(constraints);
  return text;
}

bool KeyUsageIsCritical(X509* cert) {
  return X509_EXTENSION_get_critical(X509_get_ext(cert, X509_get_ext_by_NID(cert, NID_key_usage, -1))) == 1;
}

bool KeyMatches(const fs::path& key_file, X509* cert) {
  KeyPtr key = ReadKey(key_file);
  return EVP_PKEY_eq(X509_get0_pubkey(cert), key.get()) == 1;
}

// ------------------------------------------------------------------ requests

ProvisionRequest FederationRequest(const fs::path& out) {
  ProvisionRequest request;
  request.out = out;
  request.federation = "test1";
  request.masters = {"m"};
  request.sites = {{"a", {"127.0.0.1", 7101}, true},
                   {"b", {}, false},
                   {"h", {"db.example.org", 9443}, true},
                   {"i", {"10.1.2.3", 7000}, true}};
  return request;
}

ProvisionReport ProvisionOk(const ProvisionRequest& request) {
  Result<ProvisionReport> report = Provision(request);
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  return std::move(report).value();
}

// A request with any subject, signed with `key`: for requests CreateRequest would never make.
RequestPtr CraftRequest(EVP_PKEY* key, const std::vector<std::pair<std::string, std::string>>& subject) {
  RequestPtr request(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(request.get());
  for (const auto& [field, value] : subject) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) == 1);
  }
  REQUIRE(X509_REQ_set_pubkey(request.get(), key) == 1);
  REQUIRE(X509_REQ_sign(request.get(), key, EVP_sha256()) > 0);
  return request;
}

KeyPtr NewKey() {
  Result<KeyPtr> key = GenerateKey();
  REQUIRE(key.ok());
  return std::move(key).value();
}

std::string PemOf(X509_REQ* request) {
  Result<std::string> pem = RequestPem(request);
  REQUIRE(pem.ok());
  return *pem;
}

// ------------------------------------------------------------------ provisioning

TEST_CASE("provisioned kits verify against their CA and carry their participant's identity") {
  TempDir dir("fedra-provision");
  const fs::path out = dir / "fed";
  const ProvisionReport report = ProvisionOk(FederationRequest(out));
  CHECK(HasLineStartingWith(report, "created CA " + (out / "ca").string() + " (federation test1, valid 3650 days)"));

  CHECK(ModeOf(out) == 0700);
  CHECK(ModeOf(out / "ca") == 0700);
  CHECK(ModeOf(out / "ca" / "ca.key") == 0600);
  CHECK(ModeOf(out / "ca" / "ca.crt") == 0644);
  CHECK(Contents(out / "ca" / "federation") == "test1\n");
  CertPtr ca = ReadCert(out / "ca" / "ca.crt");
  CHECK(KeyMatches(out / "ca" / "ca.key", ca.get()));
  CHECK(BasicConstraints(ca.get()) == "critical CA:TRUE pathlen:0");
  CHECK(X509_get_key_usage(ca.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(KeyUsageIsCritical(ca.get()));
  CHECK(SubjectField(ca.get(), NID_organizationName) == "fedra federation test1");
  CHECK(SubjectField(ca.get(), NID_commonName) == "fedra CA test1");

  const std::vector<std::string> loopback = {"DNS:localhost", "IP:127.0.0.1"};
  struct KitCase {
    std::string name;
    Role role;
    std::vector<int> usages;
    std::vector<std::string> extra_alt_names;  // after DNS:name, DNS:localhost, IP:127.0.0.1
  };
  const KitCase kits[] = {
      {"m", Role::kMaster, {NID_client_auth, NID_server_auth}, {}},
      {"a", Role::kSite, {NID_server_auth}, {}},  // 127.0.0.1 given explicitly is not repeated
      {"b", Role::kSite, {NID_server_auth}, {}},
      {"h", Role::kSite, {NID_server_auth}, {"DNS:db.example.org"}},
      {"i", Role::kSite, {NID_server_auth}, {"IP:10.1.2.3"}},
  };
  for (const KitCase& kit : kits) {
    const fs::path folder = out / (std::string(RoleName(kit.role)) + "-" + kit.name);
    CAPTURE(folder);
    CHECK(HasLineStartingWith(report, "created kit " + folder.string()));
    CHECK(ModeOf(folder) == 0700);
    CHECK(ModeOf(folder / "key.pem") == 0600);
    CHECK(ModeOf(folder / "cert.pem") == 0644);
    CHECK(Contents(folder / "ca.crt") == Contents(out / "ca" / "ca.crt"));

    CertPtr cert = ReadCert(folder / "cert.pem");
    CHECK(KeyMatches(folder / "key.pem", cert.get()));
    CHECK(Verifies(ca.get(), cert.get(), X509_PURPOSE_SSL_SERVER));
    CHECK(Verifies(ca.get(), cert.get(), X509_PURPOSE_SSL_CLIENT) == (kit.role == Role::kMaster));
    CHECK(BasicConstraints(cert.get()) == "critical CA:FALSE");
    CHECK(X509_get_key_usage(cert.get()) == KU_DIGITAL_SIGNATURE);
    CHECK(KeyUsageIsCritical(cert.get()));
    CHECK(SubjectField(cert.get(), NID_organizationName) == "fedra federation test1");
    CHECK(SubjectField(cert.get(), NID_organizationalUnitName) == RoleName(kit.role));
    CHECK(SubjectField(cert.get(), NID_commonName) == kit.name);
    CHECK(ExtendedKeyUsages(cert.get()) == kit.usages);
    std::vector<std::string> alt_names = {"DNS:" + kit.name, "DNS:localhost", "IP:127.0.0.1"};
    alt_names.insert(alt_names.end(), kit.extra_alt_names.begin(), kit.extra_alt_names.end());
    CHECK(AltNames(cert.get()) == alt_names);
  }
  CHECK(Contents(out / "site-a" / "site.json").find("\"allowed_masters\": [\n    \"m\"\n  ]") != std::string::npos);
}

TEST_CASE("a second run leaves every byte and mode untouched and reports what it kept") {
  TempDir dir("fedra-provision");
  const ProvisionRequest request = FederationRequest(dir / "fed");
  (void)ProvisionOk(request);
  const auto before = Snapshot(request.out);
  const ProvisionReport again = ProvisionOk(request);
  CHECK(Snapshot(request.out) == before);
  CHECK(HasLineStartingWith(again, "kept existing CA " + (request.out / "ca").string() + " (federation test1)"));
  for (const char* kit : {"master-m", "site-a", "site-b", "site-h", "site-i"}) {
    CHECK(HasLineStartingWith(again, "kept existing kit " + (request.out / kit).string()));
  }
  CHECK_FALSE(HasLineStartingWith(again, "created"));
}

TEST_CASE("another federation's name is refused against an existing CA, and its certificates do not verify") {
  TempDir dir("fedra-provision");
  const ProvisionRequest first = FederationRequest(dir / "fed1");
  (void)ProvisionOk(first);
  const auto before = Snapshot(first.out);

  ProvisionRequest mismatch;
  mismatch.out = first.out;
  mismatch.federation = "other";
  mismatch.sites = {{"e", {}, false}};
  Result<ProvisionReport> refused = Provision(mismatch);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("federation mismatch") != std::string::npos);
  CHECK(Snapshot(first.out) == before);

  ProvisionRequest second = FederationRequest(dir / "fed2");
  second.federation = "test2";
  (void)ProvisionOk(second);
  CertPtr ca1 = ReadCert(first.out / "ca" / "ca.crt");
  CertPtr ca2 = ReadCert(second.out / "ca" / "ca.crt");
  CHECK_FALSE(Verifies(ca1.get(), ReadCert(second.out / "site-a" / "cert.pem").get(), X509_PURPOSE_SSL_SERVER));
  CHECK_FALSE(Verifies(ca2.get(), ReadCert(first.out / "site-a" / "cert.pem").get(), X509_PURPOSE_SSL_SERVER));
}

TEST_CASE("a verifier checks each certificate's chain and every signature, the second time too") {
  TempDir dir("fedra-provision");
  const ProvisionRequest ours = FederationRequest(dir / "fed1");
  ProvisionRequest theirs = FederationRequest(dir / "fed2");
  theirs.federation = "test2";
  (void)ProvisionOk(ours);
  (void)ProvisionOk(theirs);
  Result<std::unique_ptr<CertificateVerifier>> verifier = CertificateVerifier::Open(ours.out / "ca" / "ca.crt");
  Result<std::unique_ptr<CertificateSigner>> a = CertificateSigner::Open(TlsFiles::InKit(ours.out / "site-a"));
  Result<std::unique_ptr<CertificateSigner>> other = CertificateSigner::Open(TlsFiles::InKit(theirs.out / "site-a"));
  REQUIRE(verifier.ok());
  REQUIRE(a.ok());
  REQUIRE(other.ok());
  Result<Bytes> signature = (*a)->Sign("the text");
  REQUIRE(signature.ok());
  // The second check of the same certificate comes from the checked chain; the signature is
  // checked each time.
  for (int attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    Result<PeerIdentity> id = (*verifier)->Verify((*a)->certificate_pem(), "the text", *signature);
    REQUIRE(id.ok());
    CHECK(id->ToString() == "site 'a'");
    const Status altered = (*verifier)->Verify((*a)->certificate_pem(), "another text", *signature).status();
    CHECK(altered.code() == StatusCode::kPermissionDenied);
    CHECK_MESSAGE(altered.message().find("signature does not verify") != std::string::npos, altered.message());
    Result<Bytes> theirs_signed = (*other)->Sign("the text");
    REQUIRE(theirs_signed.ok());
    const Status foreign = (*verifier)->Verify((*other)->certificate_pem(), "the text", *theirs_signed).status();
    CHECK(foreign.code() == StatusCode::kPermissionDenied);
    CHECK_MESSAGE(foreign.message().find("not one the federation CA issued") != std::string::npos, foreign.message());
  }
  // Site a's chain once; the foreign certificate's at each attempt, as it is never kept.
  CHECK((*verifier)->chain_checks() == 3);
  CHECK((*verifier)->Verify("not a certificate", "the text", *signature).status().message() == "not a PEM certificate");
}

TEST_CASE("a verifier keeps a checked chain ten minutes, and never outside its certificates' dates") {
  using namespace std::chrono_literals;
  TempDir dir("fedra-provision");
  const ProvisionRequest ours = FederationRequest(dir / "fed");
  (void)ProvisionOk(ours);
  auto now = std::chrono::system_clock::now();
  Result<std::unique_ptr<CertificateVerifier>> verifier =
      CertificateVerifier::Open(ours.out / "ca" / "ca.crt", [&now] { return now; });
  Result<std::unique_ptr<CertificateSigner>> a = CertificateSigner::Open(TlsFiles::InKit(ours.out / "site-a"));
  REQUIRE(verifier.ok());
  REQUIRE(a.ok());
  Result<Bytes> signature = (*a)->Sign("the text");
  REQUIRE(signature.ok());
  const auto verify = [&] { return (*verifier)->Verify((*a)->certificate_pem(), "the text", *signature).status(); };

  CHECK(verify().ok());
  CHECK((*verifier)->chain_checks() == 1);
  now += 9min;
  CHECK(verify().ok());
  CHECK((*verifier)->chain_checks() == 1);
  now += 1min;  // ten minutes after the check: checked again
  CHECK(verify().ok());
  CHECK((*verifier)->chain_checks() == 2);
  now -= 1min;  // the clock set back: a kept check's age is unknown, so checked again
  CHECK(verify().ok());
  CHECK((*verifier)->chain_checks() == 3);

  // The chain's first expiry, the site's certificate or the CA's, ends a kept check at once.
  const CertPtr site = ReadCert(ours.out / "site-a" / "cert.pem");
  const CertPtr ca = ReadCert(ours.out / "ca" / "ca.crt");
  const auto expiry = std::min(TimeOf(X509_get0_notAfter(site.get())), TimeOf(X509_get0_notAfter(ca.get())));
  now = expiry - 1min;
  CHECK_MESSAGE(verify().ok(), verify().ToString());
  CHECK((*verifier)->chain_checks() == 4);
  now = expiry + 1s;
  const Status expired = verify();
  CHECK(expired.code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(expired.message().find("certificate has expired") != std::string::npos, expired.message());
  CHECK((*verifier)->chain_checks() == 5);

  now = TimeOf(X509_get0_notBefore(site.get())) - 1s;
  const Status early = verify();
  CHECK(early.code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(early.message().find("not yet valid") != std::string::npos, early.message());
}

TEST_CASE("a verifier keeps a bounded number of checked chains: the latest, not the first") {
  TempDir dir("fedra-provision");
  Result<CertificateAuthority> ca = CreateCertificateAuthority("test", 30);
  Result<KeyPtr> key = GenerateKey();
  REQUIRE(ca.ok());
  REQUIRE(key.ok());
  // Many certificates for one key, so that one signature verifies with each of them: more peers
  // than a verifier keeps checks for (a federation has far fewer).
  constexpr int kCertificates = 2000;
  std::vector<std::string> pems;
  for (int i = 0; i < kCertificates; ++i) {
    Result<RequestPtr> request = CreateRequest(key->get(), "test", {Role::kSite, "s" + std::to_string(i)});
    REQUIRE(request.ok());
    Result<CertPtr> cert = SignLeaf(*ca, request->get(), LeafTerms{});
    REQUIRE(cert.ok());
    Result<std::string> pem = CertificatePem(cert->get());
    REQUIRE(pem.ok());
    pems.push_back(*pem);
  }
  const fs::path kit = dir / "kit";
  REQUIRE(CreateNewDirectory(kit, 0700).ok());
  REQUIRE(WriteNewFile(kit / "ca.crt", *CertificatePem(ca->cert.get()), 0644).ok());
  REQUIRE(WriteNewFile(kit / "cert.pem", pems[0], 0644).ok());
  REQUIRE(WriteNewFile(kit / "key.pem", *PrivateKeyPem(key->get()), 0600).ok());
  Result<std::unique_ptr<CertificateSigner>> signer = CertificateSigner::Open(TlsFiles::InKit(kit));
  Result<std::unique_ptr<CertificateVerifier>> verifier = CertificateVerifier::Open(kit / "ca.crt");
  REQUIRE(signer.ok());
  REQUIRE(verifier.ok());
  Result<Bytes> signature = (*signer)->Sign("the text");
  REQUIRE(signature.ok());
  const auto verify = [&](int i) { return (*verifier)->Verify(pems[static_cast<size_t>(i)], "the text", *signature); };

  for (int i = 0; i < kCertificates; ++i) {
    Result<PeerIdentity> id = verify(i);
    REQUIRE_MESSAGE(id.ok(), id.status().ToString());
    REQUIRE(id->name == "s" + std::to_string(i));
  }
  CHECK((*verifier)->chain_checks() == kCertificates);
  REQUIRE(verify(kCertificates - 1).ok());  // the latest check was kept
  CHECK((*verifier)->chain_checks() == kCertificates);
  REQUIRE(verify(0).ok());  // the first was let go: checked again
  CHECK((*verifier)->chain_checks() == kCertificates + 1);
}

TEST_CASE("a site admits the masters on the command line and those with kits, or none with a note") {
  TempDir dir("fedra-provision");
  ProvisionRequest lonely;
  lonely.out = dir / "fed";
  lonely.sites = {{"lonely", {}, false}};
  const ProvisionReport report = ProvisionOk(lonely);
  CHECK(HasLineStartingWith(report, "note: site lonely admits no master yet"));
  CHECK(Contents(lonely.out / "ca" / "federation") == std::string(kDefaultFederation) + "\n");
  CHECK(Contents(lonely.out / "site-lonely" / "site.json").find("\"allowed_masters\": []") != std::string::npos);

  ProvisionRequest master;
  master.out = lonely.out;
  master.masters = {"m"};
  (void)ProvisionOk(master);
  ProvisionRequest later;
  later.out = lonely.out;
  later.sites = {{"c", {}, false}};
  const ProvisionReport hint = ProvisionOk(later);
  CHECK(Contents(later.out / "site-c" / "site.json").find("\"allowed_masters\": [\n    \"m\"\n  ]") !=
        std::string::npos);
  CHECK(std::find(hint.lines.begin(), hint.lines.end(), R"(  {"name": "c", "host": "127.0.0.1", "port": 7000})") !=
        hint.lines.end());
}

TEST_CASE("API tokens are stored 0600 with only their SHA-256 in api-tokens, and never issued twice") {
  TempDir dir("fedra-provision");
  ProvisionRequest request;
  request.out = dir / "fed";
  request.masters = {"m"};
  request.tokens = {{"alice", "viewer"}};
  (void)ProvisionOk(request);
  const fs::path kit = request.out / "master-m";
  const std::string token = Contents(kit / "tokens" / "alice.token");
  CHECK(token.size() == 65);  // 32 random bytes in hex, and a newline
  CHECK(ModeOf(kit / "tokens" / "alice.token") == 0600);
  CHECK(ModeOf(kit / "api-tokens") == 0600);
  const std::string api_tokens = Contents(kit / "api-tokens");
  CHECK(api_tokens.find(token.substr(0, 64)) == std::string::npos);
  CHECK(api_tokens.find("\nalice viewer ") != std::string::npos);

  const auto before = Snapshot(request.out);
  Result<ProvisionReport> again = Provision(request);
  CHECK(again.status().code() == StatusCode::kAlreadyExists);
  CHECK(again.status().message().find("token 'alice' already exists") != std::string::npos);
  CHECK(Snapshot(request.out) == before);
}

TEST_CASE("requests that cannot be carried out are refused before anything is written") {
  const std::vector<std::pair<std::function<void(ProvisionRequest&)>, std::string>> cases = {
      {[](ProvisionRequest& r) {
         r.sites.push_back({"A", {}, false});
       },
       "invalid site name 'A'"},
      {[](ProvisionRequest& r) { r.masters.push_back("../x"); }, "invalid master name '../x'"},
      {[](ProvisionRequest& r) {
         r.sites.push_back({"m", {}, false});
       },
       "name 'm' given twice (as master and as site)"},
      {[](ProvisionRequest& r) {
         r.sites.push_back({"d", {"bad_host!", 7000}, true});
       },
       "invalid host 'bad_host!'"},
      {[](ProvisionRequest& r) {
         r.sites.push_back({"d", {"127.0.0.1", 70000}, true});
       },
       "invalid port 70000"},
      {[](ProvisionRequest& r) { r.federation = "Other"; }, "invalid federation name 'Other'"},
      {[](ProvisionRequest& r) {
         r.tokens = {{"t", "admin"}};
       },
       "expected NAME=viewer or NAME=operator"},
      {[](ProvisionRequest& r) {
         r.masters.push_back("n");
         r.tokens = {{"t", "viewer"}};
       },
       "exactly one --master"},
      {[](ProvisionRequest& r) { r.days = 0; }, "invalid days 0"},
  };
  TempDir dir("fedra-provision");
  for (const auto& [mutate, expected] : cases) {
    ProvisionRequest request = FederationRequest(dir / "fresh");
    mutate(request);
    CAPTURE(expected);
    Result<ProvisionReport> refused = Provision(request);
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK(refused.status().message().find(expected) != std::string::npos);
    CHECK_FALSE(PathExists(request.out));
  }
}

TEST_CASE("site and token specs parse as the command line writes them") {
  Result<SiteSpec> plain = ParseSiteSpec("a");
  REQUIRE(plain.ok());
  CHECK((plain->name == "a" && plain->address.host == "127.0.0.1" && plain->address.port == 7000));
  CHECK_FALSE(plain->explicit_address);
  Result<SiteSpec> ipv6 = ParseSiteSpec("b=[fe80::1]:7001");
  REQUIRE(ipv6.ok());
  CHECK((ipv6->address.host == "fe80::1" && ipv6->address.port == 7001 && ipv6->explicit_address));
  for (const char* bad : {"d=127.0.0.1:99999", "d=bad_host!:7000", "d=::1:80", "d=[zz]:1", "d=host", "d=host:0"}) {
    CAPTURE(bad);
    CHECK(ParseSiteSpec(bad).status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(ParseTokenSpec("ci=operator").ok());
  CHECK_FALSE(ParseTokenSpec("ci=root").ok());
  CHECK_FALSE(ParseTokenSpec("ci").ok());
}

// ------------------------------------------------------------------ enrollment

TEST_CASE("an enrolled site keeps its key: the signed kit has none and its certificate matches the site's key") {
  TempDir dir("fedra-provision");
  ProvisionRequest federation = FederationRequest(dir / "fed");
  federation.sites.clear();
  (void)ProvisionOk(federation);

  Result<EnrollmentFiles> files = CreateEnrollment(dir / "at-site", "s", "test1");
  REQUIRE_MESSAGE(files.ok(), files.status().ToString());
  CHECK(ModeOf(dir / "at-site") == 0700);
  CHECK(ModeOf(files->key) == 0600);
  const std::string key_before = Contents(files->key);
  CHECK(CreateEnrollment(dir / "at-site", "s", "test1").status().code() == StatusCode::kAlreadyExists);
  CHECK(Contents(files->key) == key_before);

  const EnrollmentSigning signing{federation.out, files->request, SiteAddress{"db.example.org", 7443}, {"m"}, 30};
  Result<ProvisionReport> report = SignEnrollment(signing);
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  const fs::path kit = federation.out / "site-s";
  CHECK(HasLineStartingWith(*report, "created kit " + kit.string()));
  CHECK_FALSE(PathExists(kit / "key.pem"));
  CHECK(ModeOf(kit) == 0700);
  CHECK(ModeOf(kit / "cert.pem") == 0644);
  CHECK(Contents(kit / "ca.crt") == Contents(federation.out / "ca" / "ca.crt"));
  CertPtr cert = ReadCert(kit / "cert.pem");
  CHECK(KeyMatches(files->key, cert.get()));
  CHECK(Verifies(ReadCert(federation.out / "ca" / "ca.crt").get(), cert.get(), X509_PURPOSE_SSL_SERVER));
  CHECK(SubjectField(cert.get(), NID_organizationalUnitName) == "site");
  CHECK(SubjectField(cert.get(), NID_commonName) == "s");
  CHECK(AltNames(cert.get()) ==
        std::vector<std::string>{"DNS:s", "DNS:localhost", "IP:127.0.0.1", "DNS:db.example.org"});
  const std::string config = Contents(kit / "site.json");
  CHECK(config.find("\"port\": 7443") != std::string::npos);
  CHECK(config.find("\"allowed_masters\": [\n    \"m\"\n  ]") != std::string::npos);

  const auto before = Snapshot(kit);
  CHECK(SignEnrollment(signing).status().code() == StatusCode::kAlreadyExists);
  CHECK(Snapshot(kit) == before);
}

TEST_CASE("requests the CA must not sign are refused with a message that says why") {
  TempDir dir("fedra-provision");
  ProvisionRequest federation = FederationRequest(dir / "fed");
  federation.sites.clear();
  (void)ProvisionOk(federation);
  KeyPtr key = NewKey();
  KeyPtr other_key = NewKey();
  const std::string org = FederationOrganization("test1");

  struct RefusalCase {
    std::string what;
    std::function<std::string()> request_pem;
    StatusCode code;
    std::string message;
  };
  const RefusalCase cases[] = {
      {"a master's request",
       [&] {
         return PemOf(CreateRequest(key.get(), "test1", {Role::kMaster, "x"}).value().get());
       },
       StatusCode::kPermissionDenied, "is for master 'x'"},
      {"another federation's request",
       [&] {
         return PemOf(CreateRequest(key.get(), "other", {Role::kSite, "x"}).value().get());
       },
       StatusCode::kPermissionDenied, "O='fedra federation other'"},
      {"a request whose signature is not its key's",
       [&] {
         RequestPtr request = CreateRequest(key.get(), "test1", {Role::kSite, "x"}).value();
         REQUIRE(X509_REQ_set_pubkey(request.get(), other_key.get()) == 1);
         return PemOf(request.get());
       },
       StatusCode::kUnauthenticated, "signature does not verify"},
      {"an unknown role",
       [&] {
         return PemOf(CraftRequest(key.get(), {{"O", org}, {"OU", "admin"}, {"CN", "x"}}).get());
       },
       StatusCode::kPermissionDenied, "OU is 'admin'"},
      {"an invalid name",
       [&] {
         return PemOf(CraftRequest(key.get(), {{"O", org}, {"OU", "site"}, {"CN", "../x"}}).get());
       },
       StatusCode::kPermissionDenied, "CN '../x' is not a valid name"},
      {"a second CN",
       [&] {
         return PemOf(CraftRequest(key.get(), {{"O", org}, {"OU", "site"}, {"CN", "x"}, {"CN", "m"}}).get());
       },
       StatusCode::kPermissionDenied, "is not of the form"},
      {"no request at all", [] { return std::string("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"); },
       StatusCode::kDataLoss, "cannot parse"},
  };
  for (const RefusalCase& c : cases) {
    CAPTURE(c.what);
    const fs::path file = dir / "requests" / (std::to_string(&c - cases) + ".csr");
    testing::WriteFile(file, c.request_pem());
    Result<ProvisionReport> refused = SignEnrollment({federation.out, file, std::nullopt, {"m"}, 30});
    CHECK(refused.status().code() == c.code);
    CHECK_MESSAGE(refused.status().message().find(c.message) != std::string::npos, refused.status().message());
    CHECK_FALSE(PathExists(federation.out / "site-x"));
  }
}

TEST_CASE("signing needs a CA") {
  TempDir dir("fedra-provision");
  Result<EnrollmentFiles> files = CreateEnrollment(dir / "at-site", "s", "test1");
  REQUIRE(files.ok());
  Result<ProvisionReport> refused = SignEnrollment({dir / "nothing", files->request, std::nullopt, {}, 30});
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("no CA in") != std::string::npos);
  CHECK_FALSE(PathExists(dir / "nothing"));
}

}  // namespace
}  // namespace fedra::provision

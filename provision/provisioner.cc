#include "provision/provisioner.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "provision/api_tokens.h"
#include "provision/certificates.h"
#include "provision/files.h"
#include "provision/kit_configs.h"

namespace fedra::provision {
namespace {

namespace fs = std::filesystem;

constexpr int kMinCaDays = 3650;

// ------------------------------------------------------------------ names, addresses, days

Status CheckName(std::string_view what, std::string_view name) {
  if (IsValidName(name)) return Status::Ok();
  return InvalidArgument("invalid " + std::string(what) + " name '" + std::string(name) + "': must match " +
                         kNamePattern +
                         " (lowercase letters, digits, '_' and '-', at most 63 characters, starting with a letter "
                         "or digit)");
}

Status CheckDays(int days) {
  if (days >= 1 && days <= kMaxDays) return Status::Ok();
  return InvalidArgument("invalid days " + std::to_string(days) + ": expected 1 to " + std::to_string(kMaxDays));
}

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool IsDnsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || !IsAsciiAlnum(label.front()) || !IsAsciiAlnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [](char c) { return IsAsciiAlnum(c) || c == '-'; });
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (size_t start = 0;;) {
    const size_t dot = host.find('.', start);
    if (!IsDnsLabel(host.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsIpv4(std::string_view host) {
  in_addr address;
  return inet_pton(AF_INET, std::string(host).c_str(), &address) == 1;
}

bool IsIpv6(std::string_view host) {
  in6_addr address;
  return host.find(':') != std::string_view::npos && inet_pton(AF_INET6, std::string(host).c_str(), &address) == 1;
}

bool IsValidHost(std::string_view host) { return IsIpv4(host) || IsDnsName(host) || IsIpv6(host); }

std::optional<int> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 || text[0] == '0') return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  const int port = std::stoi(std::string(text));
  return port <= 65535 ? std::optional<int>(port) : std::nullopt;
}

// `whose` names the site in messages: "site a".
Status ValidateSiteAddress(const SiteAddress& address, std::string_view whose) {
  if (!IsValidHost(address.host)) {
    return InvalidArgument("invalid host '" + address.host + "' for " + std::string(whose) +
                           " (expected a DNS name, IPv4 address or IPv6 address)");
  }
  if (address.port < 1 || address.port > 65535) {
    return InvalidArgument("invalid port " + std::to_string(address.port) + " for " + std::string(whose) +
                           " (expected 1-65535)");
  }
  return Status::Ok();
}

// Every participant name is valid and given once, masters and sites together.
Status ValidateParticipants(const ProvisionRequest& request) {
  std::map<std::string, std::string_view, std::less<>> role_of;
  const auto add = [&](std::string_view role, const std::string& name) -> Status {
    FEDRA_RETURN_IF_ERROR(CheckName(role, name));
    const auto [it, added] = role_of.emplace(name, role);
    if (added) return Status::Ok();
    return InvalidArgument("name '" + name + "' given twice (as " + std::string(it->second) + " and as " +
                           std::string(role) + ")");
  };
  for (const std::string& master : request.masters) FEDRA_RETURN_IF_ERROR(add("master", master));
  for (const SiteSpec& site : request.sites) {
    FEDRA_RETURN_IF_ERROR(add("site", site.name));
    FEDRA_RETURN_IF_ERROR(ValidateSiteAddress(site.address, "site " + site.name));
  }
  return Status::Ok();
}

Status ValidateTokens(const ProvisionRequest& request) {
  if (request.tokens.empty()) return Status::Ok();
  if (request.masters.size() != 1) {
    return InvalidArgument("--token needs exactly one --master (the master whose API the tokens are for)");
  }
  std::set<std::string, std::less<>> names;
  for (const TokenSpec& token : request.tokens) {
    if (!IsValidName(token.name) || (token.role != "viewer" && token.role != "operator")) {
      return InvalidArgument("invalid token '" + token.name + "=" + token.role +
                             "' (expected NAME=viewer or NAME=operator)");
    }
    if (!names.insert(token.name).second) return InvalidArgument("token '" + token.name + "' given twice");
  }
  return Status::Ok();
}

Status ValidateSigning(const EnrollmentSigning& signing) {
  if (signing.out.empty()) return InvalidArgument("no federation folder given (--out DIR)");
  if (signing.request.empty()) return InvalidArgument("no request file given (--request FILE)");
  for (const std::string& master : signing.allowed_masters) FEDRA_RETURN_IF_ERROR(CheckName("master", master));
  if (signing.address) FEDRA_RETURN_IF_ERROR(ValidateSiteAddress(*signing.address, "the enrolled site"));
  return CheckDays(signing.days);
}

// ------------------------------------------------------------------ paths

bool IsDirectory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// "DIR/" and "DIR" name the same folder; messages print it the same way either way.
fs::path WithoutTrailingSeparators(const fs::path& out) {
  std::string text = out.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

fs::path KitPath(const fs::path& out, Role role, std::string_view name) {
  return out / (std::string(RoleName(role)) + "-" + std::string(name));
}

template <typename T>
Result<T> InFile(Result<T> result, const fs::path& file) {
  if (result.ok()) return result;
  return result.status().WithContext(file.string());
}

// ------------------------------------------------------------------ the CA

// A CA read from or written to DIR/ca, with ca.crt's bytes for the kits' copies.
struct LoadedCa {
  CertificateAuthority authority;
  std::string cert_pem;
};

// The federation recorded by the CA in `ca_dir`, or nullopt when there is no CA. Checks that the
// folder is complete and its certificate readable; reads no private key.
Result<std::optional<std::string>> ExistingCaFederation(const fs::path& ca_dir) {
  if (!PathExists(ca_dir)) return std::optional<std::string>();
  if (!IsDirectory(ca_dir)) return FailedPrecondition(ca_dir.string() + " exists but is not a directory");
  for (const char* file : {"ca.crt", "ca.key", "federation"}) {
    std::error_code ec;
    if (!fs::is_regular_file(ca_dir / file, ec)) {
      return FailedPrecondition("existing CA folder " + ca_dir.string() + " is incomplete: " + file +
                                " is missing (refusing to touch it)");
    }
  }
  FEDRA_ASSIGN_OR_RETURN(std::string recorded, ReadSmallFile(ca_dir / "federation"));
  std::erase_if(recorded, [](char c) { return c == '\n' || c == '\r'; });
  if (!IsValidName(recorded)) {
    return DataLoss((ca_dir / "federation").string() + " does not hold a valid federation name");
  }
  FEDRA_ASSIGN_OR_RETURN(std::string cert_pem, ReadSmallFile(ca_dir / "ca.crt"));
  const Result<CertPtr> cert = ParseCertificatePem(cert_pem);
  if (!cert.ok()) return cert.status().WithContext((ca_dir / "ca.crt").string() + " is not a readable certificate");
  return std::optional<std::string>(std::move(recorded));
}

Result<KeyPtr> ReadPrivateKey(const fs::path& file) {
  FEDRA_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(file));
  Result<KeyPtr> key = ParsePrivateKeyPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());  // no copy of the key stays behind in freed memory
  return InFile(std::move(key), file);
}

Result<LoadedCa> LoadCa(const fs::path& ca_dir, const std::string& federation) {
  const fs::path cert_file = ca_dir / "ca.crt";
  const fs::path key_file = ca_dir / "ca.key";
  LoadedCa ca{{federation, nullptr, nullptr}, {}};
  FEDRA_ASSIGN_OR_RETURN(ca.cert_pem, ReadSmallFile(cert_file));
  FEDRA_ASSIGN_OR_RETURN(ca.authority.cert, InFile(ParseCertificatePem(ca.cert_pem), cert_file));
  FEDRA_ASSIGN_OR_RETURN(ca.authority.key, ReadPrivateKey(key_file));
  if (!KeyMatchesCertificate(ca.authority.cert.get(), ca.authority.key.get())) {
    return FailedPrecondition(key_file.string() + " is not the private key of " + cert_file.string() +
                              "; restore the CA's matching pair");
  }
  return ca;
}

// ------------------------------------------------------------------ kit contents

Status WriteKeyPem(const fs::path& file, EVP_PKEY* key) {
  FEDRA_ASSIGN_OR_RETURN(std::string pem, PrivateKeyPem(key));
  Status written = WriteNewFile(file, pem, kSecretFileMode);
  OPENSSL_cleanse(pem.data(), pem.size());
  return written;
}

// Signs `request` and writes cert.pem and ca.crt (the CA's, byte for byte) into `kit`.
Status WriteCertificates(const fs::path& kit, const LoadedCa& ca, X509_REQ* request, const LeafTerms& terms) {
  FEDRA_ASSIGN_OR_RETURN(CertPtr cert, SignLeaf(ca.authority, request, terms));
  FEDRA_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(cert.get()));
  FEDRA_RETURN_IF_ERROR(WriteNewFile(kit / "cert.pem", cert_pem, kPublicFileMode));
  return WriteNewFile(kit / "ca.crt", ca.cert_pem, kPublicFileMode);
}

void NoteIfAdmitsNoMaster(const std::string& site, const std::vector<std::string>& allowed_masters,
                          ProvisionReport* report) {
  if (!allowed_masters.empty()) return;
  report->lines.push_back("note: site " + site +
                          " admits no master yet: add the master's name to \"allowed_masters\" in its site.json");
}

// Existing masters' federation.json files are never edited: print the entries to add instead.
void AppendNewSitesHint(const std::vector<fs::path>& master_kits, const std::vector<SiteEndpoint>& new_sites,
                        ProvisionReport* report) {
  report->lines.push_back("");
  if (master_kits.empty()) {
    report->lines.push_back("add these entries to the \"sites\" array of a master's federation.json:");
  } else {
    std::string kits;
    for (const fs::path& kit : master_kits) kits += (kits.empty() ? "" : " ") + kit.string();
    report->lines.push_back("add these entries to the \"sites\" array of federation.json in: " + kits);
  }
  for (const SiteEndpoint& site : new_sites) report->lines.push_back("  " + SiteEntryLine(site));
}

SiteEndpoint EndpointOf(const std::string& name, const SiteAddress& address) {
  return {name, address.host, address.port};
}

// ------------------------------------------------------------------ the output folder

// The federation folder being written. It is created (0700) with a staging folder inside only
// when something is to be written. On destruction the staging folder goes, and so does the
// output folder if this object created it, the run did not succeed and it is empty.
class OutputFolder {
 public:
  explicit OutputFolder(fs::path out) : out_(WithoutTrailingSeparators(out)) {}
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  ~OutputFolder() {
    staging_.reset();
    if (created_ && !succeeded_) ::rmdir(out_.c_str());
  }

  const fs::path& path() const { return out_; }

  // A new, empty 0700 folder in the staging area, to be moved into place with MoveIntoPlace.
  Result<fs::path> Stage(const std::string& name) {
    FEDRA_RETURN_IF_ERROR(EnsureStaging());
    fs::path staged = staging_->path() / name;
    FEDRA_RETURN_IF_ERROR(CreateNewDirectory(staged, kPrivateDirMode));
    return staged;
  }

  void MarkSucceeded() { succeeded_ = true; }

 private:
  Status EnsureStaging() {
    if (staging_) return Status::Ok();
    if (!IsDirectory(out_)) {
      FEDRA_ASSIGN_OR_RETURN(created_, CreateDirectories(out_));
    }
    FEDRA_ASSIGN_OR_RETURN(StagingDir staging, StagingDir::Create(out_));
    staging_.emplace(std::move(staging));
    return Status::Ok();
  }

  const fs::path out_;
  bool created_ = false;
  bool succeeded_ = false;
  std::optional<StagingDir> staging_;
};

// ------------------------------------------------------------------ one Provision run

class ProvisionRun {
 public:
  explicit ProvisionRun(const ProvisionRequest& request)
      : request_(request), folder_(request.out), ca_dir_(folder_.path() / "ca") {}

  Result<ProvisionReport> Run() {
    FEDRA_RETURN_IF_ERROR(CheckTokensAreNew());
    FEDRA_RETURN_IF_ERROR(ReadCaState());
    if (PathExists(folder_.path()) && !IsDirectory(folder_.path())) {
      return FailedPrecondition("--out " + folder_.path().string() + " exists and is not a directory");
    }
    FEDRA_RETURN_IF_ERROR(ProvisionCa());
    FEDRA_RETURN_IF_ERROR(ProvisionMasters());
    FEDRA_RETURN_IF_ERROR(ProvisionSites());
    FEDRA_RETURN_IF_ERROR(HintExistingMasters());
    FEDRA_RETURN_IF_ERROR(IssueTokens());
    folder_.MarkSucceeded();
    return std::move(report_);
  }

 private:
  // Tokens are for the request's one master (ValidateRequest made sure there is exactly one).
  Status CheckTokensAreNew() const {
    if (request_.tokens.empty()) return Status::Ok();
    const std::string& master = request_.masters.front();
    return CheckTokenNamesAreFree(KitPath(folder_.path(), Role::kMaster, master), master, request_.tokens);
  }

  Status IssueTokens() {
    for (const TokenSpec& token : request_.tokens) {
      const std::string& master = request_.masters.front();
      FEDRA_RETURN_IF_ERROR(IssueToken(KitPath(folder_.path(), Role::kMaster, master), master, token, &report_));
    }
    return Status::Ok();
  }

  Status ReadCaState() {
    FEDRA_ASSIGN_OR_RETURN(std::optional<std::string> recorded, ExistingCaFederation(ca_dir_));
    if (recorded && request_.federation && *request_.federation != *recorded) {
      return FailedPrecondition("federation mismatch: --federation '" + *request_.federation + "' but the CA in " +
                                ca_dir_.string() + " belongs to federation '" + *recorded + "'");
    }
    ca_exists_ = recorded.has_value();
    federation_ = recorded.value_or(request_.federation.value_or(kDefaultFederation));
    return Status::Ok();
  }

  Status ProvisionCa() {
    if (ca_exists_) {
      report_.lines.push_back("kept existing CA " + ca_dir_.string() + " (federation " + federation_ + ")");
      return Status::Ok();
    }
    const int days = std::max(kMinCaDays, request_.days);
    FEDRA_ASSIGN_OR_RETURN(fs::path staged, folder_.Stage("ca"));
    FEDRA_ASSIGN_OR_RETURN(CertificateAuthority authority, CreateCertificateAuthority(federation_, days));
    FEDRA_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(authority.cert.get()));
    FEDRA_RETURN_IF_ERROR(WriteKeyPem(staged / "ca.key", authority.key.get()));
    FEDRA_RETURN_IF_ERROR(WriteNewFile(staged / "ca.crt", cert_pem, kPublicFileMode));
    FEDRA_RETURN_IF_ERROR(WriteNewFile(staged / "federation", federation_ + "\n", kPublicFileMode));
    FEDRA_RETURN_IF_ERROR(MoveIntoPlace(staged, ca_dir_));
    ca_ = LoadedCa{std::move(authority), std::move(cert_pem)};
    report_.lines.push_back("created CA " + ca_dir_.string() + " (federation " + federation_ + ", valid " +
                            std::to_string(days) + " days)");
    return Status::Ok();
  }

  // The CA key is read only when a kit is to be signed.
  Result<const LoadedCa*> Ca() {
    if (!ca_) {
      FEDRA_ASSIGN_OR_RETURN(LoadedCa loaded, LoadCa(ca_dir_, federation_));
      ca_ = std::move(loaded);
    }
    return &*ca_;
  }

  using ConfigWriter = std::function<Status(const fs::path& staged_kit)>;

  // Creates the kit of `participant` unless one exists; returns whether it did.
  Result<bool> MakeKit(const Participant& participant, const LeafTerms& terms, const ConfigWriter& write_config) {
    const fs::path kit = KitPath(folder_.path(), participant.role, participant.name);
    if (PathExists(kit)) {
      report_.lines.push_back("kept existing kit " + kit.string());
      return false;
    }
    const Status made = StageAndInstallKit(kit, participant, terms, write_config);
    if (!made.ok()) return made.WithContext("creating kit " + kit.string());
    report_.lines.push_back("created kit " + kit.string() + " (" + std::string(RoleName(participant.role)) + " " +
                            participant.name + ")");
    return true;
  }

  Status StageAndInstallKit(const fs::path& kit, const Participant& participant, const LeafTerms& terms,
                            const ConfigWriter& write_config) {
    FEDRA_ASSIGN_OR_RETURN(fs::path staged, folder_.Stage("kit-" + kit.filename().string()));
    FEDRA_ASSIGN_OR_RETURN(const LoadedCa* ca, Ca());
    FEDRA_ASSIGN_OR_RETURN(KeyPtr key, GenerateKey());
    FEDRA_RETURN_IF_ERROR(WriteKeyPem(staged / "key.pem", key.get()));
    FEDRA_ASSIGN_OR_RETURN(RequestPtr request, CreateRequest(key.get(), federation_, participant));
    FEDRA_RETURN_IF_ERROR(WriteCertificates(staged, *ca, request.get(), terms));
    FEDRA_RETURN_IF_ERROR(write_config(staged));
    return MoveIntoPlace(staged, kit);
  }

  Status ProvisionMasters() {
    std::vector<SiteEndpoint> sites;
    for (const SiteSpec& site : request_.sites) sites.push_back(EndpointOf(site.name, site.address));
    for (const std::string& name : request_.masters) {
      const ConfigWriter write_config = [&](const fs::path& kit) {
        return WriteFederationConfig(kit / "federation.json", name, federation_, sites);
      };
      FEDRA_ASSIGN_OR_RETURN(bool created, MakeKit({Role::kMaster, name}, {request_.days, std::nullopt}, write_config));
      if (created) created_masters_.insert(name);
    }
    return Status::Ok();
  }

  Status ProvisionSites() {
    for (const SiteSpec& site : request_.sites) {
      const SiteEndpoint endpoint = EndpointOf(site.name, site.address);
      const ConfigWriter write_config = [&](const fs::path& kit) -> Status {
        FEDRA_ASSIGN_OR_RETURN(std::vector<std::string> admitted, AllowedMasters());
        NoteIfAdmitsNoMaster(site.name, admitted, &report_);
        return WriteSiteConfig(kit / "site.json", endpoint, admitted);
      };
      const LeafTerms terms{request_.days, site.explicit_address ? std::optional(site.address.host) : std::nullopt};
      FEDRA_ASSIGN_OR_RETURN(bool created, MakeKit({Role::kSite, site.name}, terms, write_config));
      if (created) created_sites_.push_back(endpoint);
    }
    return Status::Ok();
  }

  // The masters on the command line, then those with a kit in the folder already.
  Result<std::vector<std::string>> AllowedMasters() const {
    std::vector<std::string> names = request_.masters;
    FEDRA_ASSIGN_OR_RETURN(std::vector<std::string> with_kits, MastersWithKits(folder_.path()));
    for (std::string& name : with_kits) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
    }
    return names;
  }

  // New sites are listed in the masters created with them; every other master needs the hint.
  Status HintExistingMasters() {
    if (created_sites_.empty()) return Status::Ok();
    FEDRA_ASSIGN_OR_RETURN(std::vector<std::string> masters, MastersWithKits(folder_.path()));
    std::vector<fs::path> stale;
    for (const std::string& master : masters) {
      if (!created_masters_.contains(master)) stale.push_back(KitPath(folder_.path(), Role::kMaster, master));
    }
    if (stale.empty() && !created_masters_.empty()) return Status::Ok();
    AppendNewSitesHint(stale, created_sites_, &report_);
    return Status::Ok();
  }

  const ProvisionRequest& request_;
  OutputFolder folder_;
  const fs::path ca_dir_;
  std::string federation_;
  bool ca_exists_ = false;
  std::optional<LoadedCa> ca_;
  std::set<std::string, std::less<>> created_masters_;
  std::vector<SiteEndpoint> created_sites_;
  ProvisionReport report_;
};

// ------------------------------------------------------------------ enrollment

Result<RequestPtr> ReadRequest(const fs::path& file) {
  FEDRA_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(file));
  return InFile(ParseRequestPem(pem), file);
}

// The site a request may be enrolled as: it passes the signer's checks and is for a site.
Result<std::string> EnrolledSiteName(X509_REQ* request, const std::string& federation, const fs::path& file) {
  FEDRA_ASSIGN_OR_RETURN(Participant participant, InFile(VerifiedRequestParticipant(request, federation), file));
  if (participant.role != Role::kSite) {
    return PermissionDenied(file.string() + ": the request is for master '" + participant.name +
                            "' (OU=master); only sites enroll with a request (a master's kit is made with --master)");
  }
  return participant.name;
}

Status StageEnrolledKit(const fs::path& staged, const LoadedCa& ca, X509_REQ* request, const EnrollmentSigning& signing,
                        const SiteEndpoint& endpoint, ProvisionReport* report) {
  const LeafTerms terms{signing.days, signing.address ? std::optional(endpoint.host) : std::nullopt};
  FEDRA_RETURN_IF_ERROR(WriteCertificates(staged, ca, request, terms));
  NoteIfAdmitsNoMaster(endpoint.name, signing.allowed_masters, report);
  return WriteSiteConfig(staged / "site.json", endpoint, signing.allowed_masters);
}

}  // namespace

Result<SiteAddress> ParseSiteAddress(std::string_view host_port, std::string_view context) {
  const std::string where(context);
  std::string_view host;
  std::string_view port;
  if (host_port.starts_with('[')) {
    const size_t close = host_port.find("]:");
    if (close == std::string_view::npos) {
      return InvalidArgument("invalid " + where + ": expected HOST:PORT, with an IPv6 HOST in brackets");
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
    if (!IsIpv6(host)) return InvalidArgument("invalid IPv6 address '" + std::string(host) + "' in " + where);
  } else {
    const size_t colon = host_port.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      return InvalidArgument("invalid " + where + ": expected HOST:PORT, with an IPv6 HOST in brackets");
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
    if (!IsIpv4(host) && !IsDnsName(host)) {
      return InvalidArgument("invalid host '" + std::string(host) + "' in " + where +
                             " (expected a DNS name, IPv4 address or [IPv6])");
    }
  }
  const std::optional<int> number = ParsePort(port);
  if (!number) return InvalidArgument("invalid port '" + std::string(port) + "' in " + where + " (expected 1-65535)");
  return SiteAddress{std::string(host), *number};
}

Result<SiteSpec> ParseSiteSpec(std::string_view spec) {
  const size_t equals = spec.find('=');
  if (equals == std::string_view::npos) return SiteSpec{std::string(spec), SiteAddress{}, false};
  FEDRA_ASSIGN_OR_RETURN(SiteAddress address,
                         ParseSiteAddress(spec.substr(equals + 1), "--site '" + std::string(spec) + "'"));
  return SiteSpec{std::string(spec.substr(0, equals)), std::move(address), true};
}

Result<TokenSpec> ParseTokenSpec(std::string_view spec) {
  const size_t equals = spec.find('=');
  const std::string_view name = spec.substr(0, equals);
  const std::string_view role = equals == std::string_view::npos ? "" : spec.substr(equals + 1);
  if (!IsValidName(name) || (role != "viewer" && role != "operator")) {
    return InvalidArgument("invalid --token '" + std::string(spec) + "' (expected NAME=viewer or NAME=operator)");
  }
  return TokenSpec{std::string(name), std::string(role)};
}

Status ValidateRequest(const ProvisionRequest& request) {
  if (request.out.empty()) return InvalidArgument("no output folder given (--out DIR)");
  if (request.federation) FEDRA_RETURN_IF_ERROR(CheckName("federation", *request.federation));
  FEDRA_RETURN_IF_ERROR(ValidateParticipants(request));
  FEDRA_RETURN_IF_ERROR(ValidateTokens(request));
  return CheckDays(request.days);
}

Result<ProvisionReport> Provision(const ProvisionRequest& request) {
  FEDRA_RETURN_IF_ERROR(ValidateRequest(request));
  return ProvisionRun(request).Run();
}

Result<std::vector<std::string>> MastersWithKits(const fs::path& out) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(out, ec);
  if (ec == std::errc::no_such_file_or_directory) return names;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string file = it->path().filename().string();
    const std::string name = file.substr(std::min(file.size(), std::string_view("master-").size()));
    if (file.starts_with("master-") && IsValidName(name) && IsDirectory(it->path())) names.push_back(name);
  }
  if (ec) return FailedPrecondition(out.string() + ": cannot list the folder: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Result<EnrollmentFiles> CreateEnrollment(const fs::path& dir, std::string_view site, std::string_view federation) {
  FEDRA_RETURN_IF_ERROR(CheckName("site", site));
  FEDRA_RETURN_IF_ERROR(CheckName("federation", federation));
  const EnrollmentFiles files{dir / "key.pem", dir / "request.csr"};
  for (const fs::path& file : {files.key, files.request}) {
    if (PathExists(file)) {
      return AlreadyExists(file.string() +
                           " exists already; leaving it untouched (send the existing request.csr, or enroll in a "
                           "new folder)");
    }
  }
  FEDRA_RETURN_IF_ERROR(CreateDirectories(dir).status());
  FEDRA_ASSIGN_OR_RETURN(KeyPtr key, GenerateKey());
  FEDRA_ASSIGN_OR_RETURN(RequestPtr request, CreateRequest(key.get(), federation, {Role::kSite, std::string(site)}));
  FEDRA_ASSIGN_OR_RETURN(std::string request_pem, RequestPem(request.get()));
  FEDRA_RETURN_IF_ERROR(WriteKeyPem(files.key, key.get()));
  const Status written = WriteNewFile(files.request, request_pem, kPublicFileMode);
  if (!written.ok()) {
    ::unlink(files.key.c_str());  // a key without its request would only block a retry
    return written;
  }
  return files;
}

Result<ProvisionReport> SignEnrollment(const EnrollmentSigning& signing) {
  FEDRA_RETURN_IF_ERROR(ValidateSigning(signing));
  OutputFolder folder(signing.out);
  const fs::path ca_dir = folder.path() / "ca";
  FEDRA_ASSIGN_OR_RETURN(std::optional<std::string> federation, ExistingCaFederation(ca_dir));
  if (!federation) {
    return FailedPrecondition("no CA in " + ca_dir.string() + ": create the federation first (fedra-provision --out " +
                              folder.path().string() + ")");
  }
  FEDRA_ASSIGN_OR_RETURN(RequestPtr request, ReadRequest(signing.request));
  FEDRA_ASSIGN_OR_RETURN(std::string site, EnrolledSiteName(request.get(), *federation, signing.request));
  const fs::path kit = KitPath(folder.path(), Role::kSite, site);
  if (PathExists(kit)) {
    return AlreadyExists("kit " + kit.string() + " exists already; leaving it untouched (to enroll site " + site +
                         " again, remove the kit first)");
  }
  FEDRA_ASSIGN_OR_RETURN(LoadedCa ca, LoadCa(ca_dir, *federation));

  ProvisionReport report;
  const SiteEndpoint endpoint = EndpointOf(site, signing.address.value_or(SiteAddress{}));
  FEDRA_ASSIGN_OR_RETURN(fs::path staged, folder.Stage("kit-site-" + site));
  const Status staged_ok = StageEnrolledKit(staged, ca, request.get(), signing, endpoint, &report);
  if (!staged_ok.ok()) return staged_ok.WithContext("creating kit " + kit.string());
  FEDRA_RETURN_IF_ERROR(MoveIntoPlace(staged, kit));
  report.lines.push_back("created kit " + kit.string() + " (site " + site + ", from " + signing.request.string() +
                         "; no key.pem: the site adds the key.pem it made with its request)");
  FEDRA_ASSIGN_OR_RETURN(std::vector<std::string> masters, MastersWithKits(folder.path()));
  std::vector<fs::path> master_kits;
  for (const std::string& master : masters) master_kits.push_back(KitPath(folder.path(), Role::kMaster, master));
  AppendNewSitesHint(master_kits, {endpoint}, &report);
  folder.MarkSucceeded();
  return report;
}

}  // namespace fedra::provision

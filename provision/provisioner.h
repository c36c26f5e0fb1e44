// Provisioning a fedra federation folder DIR: its certificate authority in DIR/ca and one startup
// kit per participant, DIR/master-NAME/ and DIR/site-NAME/, each holding cert.pem, key.pem (0600),
// ca.crt and a ready config (federation.json or site.json); kits and the CA are 0700 folders.
//
// Nothing is ever overwritten: an existing CA is reused (its key is never regenerated), an
// existing kit is reported as kept and left untouched byte for byte, and new folders appear whole
// or not at all (built in DIR/.fedra-provision.XXXXXX and renamed into place).
//
// Enrollment lets a site keep its private key: the site runs CreateEnrollment, sends request.csr
// to the CA's operator, who runs SignEnrollment and sends back the kit (without key.pem).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fedra::provision {

inline constexpr int kDefaultDays = 825;  // validity of participant certificates
inline constexpr int kMaxDays = 99999;
inline constexpr char kDefaultFederation[] = "fedra";

// Where a site agent listens and masters connect. The host is a DNS name, an IPv4 address or an
// IPv6 address (without brackets).
struct SiteAddress {
  std::string host = "127.0.0.1";
  int port = 7000;
};

struct SiteSpec {
  std::string name;
  SiteAddress address;
  // True when the user gave the address: its host then joins the certificate's subjectAltName
  // (unless it is the site's name, localhost or 127.0.0.1).
  bool explicit_address = false;
};

// A REST API bearer token to issue for the request's one master.
struct TokenSpec {
  std::string name;
  std::string role;  // "viewer" (read) or "operator" (read, submit and cancel jobs, write metrics)
};

struct ProvisionRequest {
  std::filesystem::path out;  // DIR; created (0700, parents too) when missing
  // Default: the name recorded in DIR/ca/federation, or "fedra" for a new CA. A name that differs
  // from an existing CA's is refused.
  std::optional<std::string> federation;
  std::vector<std::string> masters;
  std::vector<SiteSpec> sites;
  std::vector<TokenSpec> tokens;  // needs exactly one master
  int days = kDefaultDays;        // new participant certificates; a new CA gets max(3650, days)
};

// What a run did, as lines for the user: created / kept CA and kits, notes, hints, issued tokens.
// No line ever holds key material or a token.
struct ProvisionReport {
  std::vector<std::string> lines;
};

// "NAME" or "NAME=HOST:PORT" (HOST a DNS name, IPv4 address or [IPv6]); the name is checked by
// ValidateRequest. Errors (kInvalidArgument) quote `spec`.
Result<SiteSpec> ParseSiteSpec(std::string_view spec);

// "HOST:PORT" as in ParseSiteSpec. `context` says where the text came from, for messages
// ("--site a=h:1").
Result<SiteAddress> ParseSiteAddress(std::string_view host_port, std::string_view context);

// "NAME=viewer" or "NAME=operator".
Result<TokenSpec> ParseTokenSpec(std::string_view spec);

// Ok when `request` can be carried out as far as its own content tells: valid and distinct names,
// valid addresses, token roles, tokens with exactly one master, days in [1, kMaxDays]. Errors are
// kInvalidArgument. Touches no file.
Status ValidateRequest(const ProvisionRequest& request);

// Creates or extends the federation folder request.out, as described at the top of this file.
// Validates the request first. Fails with a message naming the path when the existing CA is
// incomplete or of another federation, a token name is taken, or a file cannot be written; on
// failure a staging folder is removed and an output folder this call created is removed if empty.
Result<ProvisionReport> Provision(const ProvisionRequest& request);

// Names of the masters with a kit folder (DIR/master-NAME) in `out`, sorted; none when `out` is
// missing.
Result<std::vector<std::string>> MastersWithKits(const std::filesystem::path& out);

// The files a site's enrollment created.
struct EnrollmentFiles {
  std::filesystem::path key;      // dir/key.pem, mode 0600: stays at the site
  std::filesystem::path request;  // dir/request.csr: goes to the CA's operator
};

// Site side: a new key and a certificate request for site `site` of `federation`, written to
// `dir` (created 0700 when missing). Fails with kAlreadyExists, writing nothing, when either file
// exists.
Result<EnrollmentFiles> CreateEnrollment(const std::filesystem::path& dir, std::string_view site,
                                         std::string_view federation);

struct EnrollmentSigning {
  std::filesystem::path out;      // the federation folder; DIR/ca must exist
  std::filesystem::path request;  // the site's request.csr
  // Where the site listens; when given, its host joins the certificate's subjectAltName as for
  // an explicit --site address. Default 127.0.0.1:7000.
  std::optional<SiteAddress> address;
  std::vector<std::string> allowed_masters;  // the site.json's allowed_masters
  int days = kDefaultDays;
};

// CA side: checks the request (its signature, OU=site, a valid CN, O naming the CA's federation)
// and writes the kit DIR/site-NAME with cert.pem, ca.crt and site.json, but no key.pem (the site
// has it). Fails with kAlreadyExists when the kit exists, kPermissionDenied or kUnauthenticated
// for a request this CA must not sign.
Result<ProvisionReport> SignEnrollment(const EnrollmentSigning& signing);

}  // namespace fedra::provision

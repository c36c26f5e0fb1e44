// The federation's certificates, in memory: EC P-256 keys, the self-signed CA, participants'
// certificate requests, and the leaf certificates the CA signs from them. Nothing here touches
// files; provisioner.h decides where keys and certificates live.
//
// Who a certificate is for is in its subject: O = "fedra federation <federation>", OU = role
// ("master" or "site"), CN = participant name (common/tls.h reads it back during the handshake).
// OpenSSL failures become Status messages with OpenSSL's error text, never key material.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/status.h"

namespace fedra::provision {

// Owners of OpenSSL objects: each frees with the library's own function.
template <auto Free>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using RequestPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;

enum class Role { kMaster, kSite };

// "master" or "site": the subject OU of the role's certificates.
std::string_view RoleName(Role role);

// The rule for participant and federation names, as messages quote it.
inline constexpr char kNamePattern[] = "^[a-z0-9][a-z0-9_-]{0,62}$";

// True when `name` matches kNamePattern.
bool IsValidName(std::string_view name);

// The subject O of every certificate of `federation`: "fedra federation <federation>".
std::string FederationOrganization(std::string_view federation);

// Who a certificate request is for, read from its subject.
struct Participant {
  Role role;
  std::string name;
};

// The CA that signs a federation's certificates. `key` is its private key.
struct CertificateAuthority {
  std::string federation;
  CertPtr cert;
  KeyPtr key;
};

// What the CA puts into a leaf certificate besides what the request says.
struct LeafTerms {
  int days = 825;  // validity from now
  // A host the participant is reached at, added to the subjectAltName unless it is its name,
  // localhost or 127.0.0.1 (those are always there). An IPv4 address or anything with ':' is an IP.
  std::optional<std::string> extra_host;
};

// A new EC P-256 private key.
Result<KeyPtr> GenerateKey();

// A new self-signed CA for `federation`, valid `days` days from now: subject
// "/O=fedra federation F/CN=fedra CA F", CA:TRUE pathlen:0 (critical), keyCertSign and cRLSign
// (critical), key identifiers, a random 128-bit positive serial, SHA-256.
Result<CertificateAuthority> CreateCertificateAuthority(std::string_view federation, int days);

// A request signed with `key` for subject O = federation's, OU = role, CN = name.
Result<RequestPtr> CreateRequest(EVP_PKEY* key, std::string_view federation, const Participant& participant);

// The participant `request` is for. Fails (kUnauthenticated) unless its signature verifies with
// its own public key, and (kPermissionDenied) unless its subject is exactly O, OU, CN with O
// naming `federation`, OU "master" or "site" and CN a valid name.
Result<Participant> VerifiedRequestParticipant(X509_REQ* request, std::string_view federation);

// A leaf certificate for the participant `request` names (checked with VerifiedRequestParticipant
// against the CA's federation): CA:FALSE and digitalSignature (both critical); extended key usage
// clientAuth + serverAuth for a master, serverAuth for a site; subjectAltName DNS:name,
// DNS:localhost, IP:127.0.0.1 (+ terms.extra_host); key identifiers; random serial; SHA-256.
Result<CertPtr> SignLeaf(const CertificateAuthority& ca, X509_REQ* request, const LeafTerms& terms);

// True when `key` is the private key of `cert`'s public key.
bool KeyMatchesCertificate(X509* cert, EVP_PKEY* key);

// OpenSSL's queued errors as text ("error:...:reason"; never key material), emptying the queue.
std::string DrainOpenSslErrors();

// PEM text of keys (PKCS#8), certificates and requests, and back. Parse errors are kDataLoss.
Result<std::string> PrivateKeyPem(EVP_PKEY* key);
Result<std::string> CertificatePem(X509* cert);
Result<std::string> RequestPem(X509_REQ* request);
Result<KeyPtr> ParsePrivateKeyPem(std::string_view pem);
Result<CertPtr> ParseCertificatePem(std::string_view pem);
Result<RequestPtr> ParseRequestPem(std::string_view pem);

}  // namespace fedra::provision

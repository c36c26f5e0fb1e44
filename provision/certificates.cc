#include "provision/certificates.h"

#include <arpa/inet.h>

#include <initializer_list>
#include <utility>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace fedra::provision {
namespace {

using NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;

Status OpenSslFailure(std::string_view what) { return Internal(std::string(what) + ": " + DrainOpenSslErrors()); }

Status OpenSslParseFailure(std::string_view what) {
  return DataLoss("cannot parse " + std::string(what) + ": " + DrainOpenSslErrors());
}

Result<NamePtr> MakeName(std::initializer_list<std::pair<const char*, std::string>> entries) {
  NamePtr name(X509_NAME_new());
  if (!name) return OpenSslFailure("allocate a subject name");
  for (const auto& [field, value] : entries) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8, bytes, static_cast<int>(value.size()), -1, 0) !=
        1) {
      return OpenSslFailure(std::string("set subject ") + field + "=" + value);
    }
  }
  return name;
}

Result<NamePtr> ParticipantSubject(std::string_view federation, const Participant& participant) {
  return MakeName({{"O", FederationOrganization(federation)},
                   {"OU", std::string(RoleName(participant.role))},
                   {"CN", participant.name}});
}

// 128 random bits with the top bit cleared: positive, and at most 16 bytes in DER.
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslFailure("draw a random serial number");
  bytes[0] &= 0x7f;
  BignumPtr serial(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert))) {
    return OpenSslFailure("set the serial number");
  }
  return Status::Ok();
}

// A v3 certificate with everything but extensions and signature.
Result<CertPtr> NewCertificate(X509_NAME* subject, X509_NAME* issuer, EVP_PKEY* public_key, int days) {
  CertPtr cert(X509_new());
  if (!cert) return OpenSslFailure("allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 || X509_set_pubkey(cert.get(), public_key) != 1 ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr)) {
    return OpenSslFailure("fill in the certificate");
  }
  FEDRA_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  return cert;
}

Status AddExtension(X509* cert, ExtensionPtr extension, std::string_view what) {
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslFailure("add extension " + std::string(what));
  }
  return Status::Ok();
}

// An extension written as in an openssl.cnf section, e.g. "critical, CA:FALSE". Key identifiers
// read the subject's public key and the issuer's subjectKeyIdentifier through `ctx`.
Status AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  return AddExtension(cert, std::move(extension), std::string(OBJ_nid2sn(nid)) + " = " + value);
}

bool IsIpAddress(const std::string& host) {
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || host.find(':') != std::string::npos;
}

Status AppendGeneralName(GENERAL_NAMES* names, int type, const std::string& value) {
  GENERAL_NAME* name = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, type, value.c_str(), 0);
  if (!name) return OpenSslFailure("subjectAltName entry '" + value + "'");
  if (!sk_GENERAL_NAME_push(names, name)) {
    GENERAL_NAME_free(name);
    return OpenSslFailure("subjectAltName entry '" + value + "'");
  }
  return Status::Ok();
}

// Built entry by entry, not from "DNS:a,IP:b" text, so no host can smuggle in another entry.
Status AddSubjectAltName(X509* cert, const std::string& name, const std::optional<std::string>& extra_host) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslFailure("allocate subjectAltName");
  FEDRA_RETURN_IF_ERROR(AppendGeneralName(names.get(), GEN_DNS, name));
  FEDRA_RETURN_IF_ERROR(AppendGeneralName(names.get(), GEN_DNS, "localhost"));
  FEDRA_RETURN_IF_ERROR(AppendGeneralName(names.get(), GEN_IPADD, "127.0.0.1"));
  if (extra_host && *extra_host != name && *extra_host != "localhost" && *extra_host != "127.0.0.1") {
    const int type = IsIpAddress(*extra_host) ? GEN_IPADD : GEN_DNS;
    FEDRA_RETURN_IF_ERROR(AppendGeneralName(names.get(), type, *extra_host));
  }
  ExtensionPtr extension(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
  return AddExtension(cert, std::move(extension), "subjectAltName");
}

Status SignCertificate(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpenSslFailure("sign the certificate");
  return Status::Ok();
}

Result<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size < 0) return OpenSslFailure("read PEM output");
  return std::string(data, static_cast<size_t>(size));
}

template <typename T, typename Write>
Result<std::string> ToPem(T* object, Write write, std::string_view what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return OpenSslFailure("encode " + std::string(what) + " as PEM");
  return BioText(bio.get());
}

// Reads exactly one PEM object; a passphrase is never asked for (encrypted keys are refused).
template <typename Ptr, typename Read>
Result<Ptr> FromPem(std::string_view pem, Read read, std::string_view what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslFailure("read " + std::string(what));
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  Ptr object(read(bio.get(), nullptr, no_passphrase, nullptr));
  if (!object) return OpenSslParseFailure(what);
  return object;
}

std::string EntryText(X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (len < 0) return {};
  std::string text(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return text;
}

std::string OneLine(X509_NAME* name) {
  char* text = X509_NAME_oneline(name, nullptr, 0);
  if (!text) return "(unprintable)";
  std::string line(text);
  OPENSSL_free(text);
  return line;
}

struct RequestSubject {
  std::string organization;
  std::string unit;
  std::string common_name;
};

// A subject of exactly one O, one OU and one CN, so no other field can change who it names.
Result<RequestSubject> ReadRequestSubject(X509_NAME* name) {
  const auto malformed = [&] {
    return PermissionDenied("the request's subject " + OneLine(name) +
                            " is not of the form /O=fedra federation F/OU=ROLE/CN=NAME");
  };
  if (X509_NAME_entry_count(name) != 3) return malformed();
  RequestSubject subject;
  for (int i = 0; i < 3; ++i) {
    X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    std::string* field = nullptr;
    switch (OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))) {
      case NID_organizationName: field = &subject.organization; break;
      case NID_organizationalUnitName: field = &subject.unit; break;
      case NID_commonName: field = &subject.common_name; break;
      default: return malformed();
    }
    if (!field->empty()) return malformed();
    *field = EntryText(entry);
    if (field->empty()) return malformed();
  }
  return subject;
}

Status VerifyRequestSignature(X509_REQ* request) {
  EVP_PKEY* key = X509_REQ_get0_pubkey(request);
  if (!key) return DataLoss("the request carries no usable public key: " + DrainOpenSslErrors());
  if (X509_REQ_verify(request, key) != 1) {
    return Unauthenticated(
        "the request's signature does not verify with its own public key (it was altered or "
        "corrupted; ask the site for a new request): " +
        DrainOpenSslErrors());
  }
  return Status::Ok();
}

Result<Role> RoleOfUnit(const std::string& unit) {
  if (unit == RoleName(Role::kMaster)) return Role::kMaster;
  if (unit == RoleName(Role::kSite)) return Role::kSite;
  return PermissionDenied("the request's OU is '" + unit + "': expected 'master' or 'site'");
}

}  // namespace

std::string DrainOpenSslErrors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? "no OpenSSL error recorded" : text;
}

std::string_view RoleName(Role role) { return role == Role::kMaster ? "master" : "site"; }

bool IsValidName(std::string_view name) {
  const auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > 63 || !lower_or_digit(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!lower_or_digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string FederationOrganization(std::string_view federation) {
  return "fedra federation " + std::string(federation);
}

Result<KeyPtr> GenerateKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("generate an EC P-256 key");
  return key;
}

Result<CertificateAuthority> CreateCertificateAuthority(std::string_view federation, int days) {
  CertificateAuthority ca{std::string(federation), nullptr, nullptr};
  FEDRA_ASSIGN_OR_RETURN(ca.key, GenerateKey());
  FEDRA_ASSIGN_OR_RETURN(NamePtr subject,
                         MakeName({{"O", FederationOrganization(federation)}, {"CN", "fedra CA " + ca.federation}}));
  FEDRA_ASSIGN_OR_RETURN(ca.cert, NewCertificate(subject.get(), subject.get(), ca.key.get(), days));

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert.get(), ca.cert.get(), nullptr, nullptr, 0);
  // The subjectKeyIdentifier goes first: the self-signed authorityKeyIdentifier copies it.
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical, CA:TRUE, pathlen:0"},
      {NID_key_usage, "critical, keyCertSign, cRLSign"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    FEDRA_RETURN_IF_ERROR(AddConfExtension(ca.cert.get(), &ctx, nid, value));
  }
  FEDRA_RETURN_IF_ERROR(SignCertificate(ca.cert.get(), ca.key.get()));
  return ca;
}

Result<RequestPtr> CreateRequest(EVP_PKEY* key, std::string_view federation, const Participant& participant) {
  RequestPtr request(X509_REQ_new());
  if (!request) return OpenSslFailure("allocate a certificate request");
  FEDRA_ASSIGN_OR_RETURN(NamePtr subject, ParticipantSubject(federation, participant));
  if (X509_REQ_set_version(request.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(request.get(), subject.get()) != 1 || X509_REQ_set_pubkey(request.get(), key) != 1) {
    return OpenSslFailure("fill in the certificate request");
  }
  if (X509_REQ_sign(request.get(), key, EVP_sha256()) <= 0) return OpenSslFailure("sign the certificate request");
  return request;
}

Result<Participant> VerifiedRequestParticipant(X509_REQ* request, std::string_view federation) {
  FEDRA_RETURN_IF_ERROR(VerifyRequestSignature(request));
  FEDRA_ASSIGN_OR_RETURN(RequestSubject subject, ReadRequestSubject(X509_REQ_get_subject_name(request)));
  if (subject.organization != FederationOrganization(federation)) {
    return PermissionDenied("the request is for O='" + subject.organization + "', but this CA signs only federation '" +
                            std::string(federation) + "' (O='" + FederationOrganization(federation) + "')");
  }
  FEDRA_ASSIGN_OR_RETURN(Role role, RoleOfUnit(subject.unit));
  if (!IsValidName(subject.common_name)) {
    return PermissionDenied("the request's CN '" + subject.common_name + "' is not a valid name: must match " +
                            kNamePattern);
  }
  return Participant{role, subject.common_name};
}

Result<CertPtr> SignLeaf(const CertificateAuthority& ca, X509_REQ* request, const LeafTerms& terms) {
  FEDRA_ASSIGN_OR_RETURN(Participant participant, VerifiedRequestParticipant(request, ca.federation));
  FEDRA_ASSIGN_OR_RETURN(NamePtr subject, ParticipantSubject(ca.federation, participant));
  FEDRA_ASSIGN_OR_RETURN(CertPtr cert, NewCertificate(subject.get(), X509_get_subject_name(ca.cert.get()),
                                                      X509_REQ_get0_pubkey(request), terms.days));
  X509* leaf = cert.get();
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert.get(), leaf, nullptr, nullptr, 0);
  const char* usage = participant.role == Role::kMaster ? "clientAuth, serverAuth" : "serverAuth";
  FEDRA_RETURN_IF_ERROR(AddConfExtension(leaf, &ctx, NID_basic_constraints, "critical, CA:FALSE"));
  FEDRA_RETURN_IF_ERROR(AddConfExtension(leaf, &ctx, NID_key_usage, "critical, digitalSignature"));
  FEDRA_RETURN_IF_ERROR(AddConfExtension(leaf, &ctx, NID_ext_key_usage, usage));
  FEDRA_RETURN_IF_ERROR(AddSubjectAltName(leaf, participant.name, terms.extra_host));
  FEDRA_RETURN_IF_ERROR(AddConfExtension(leaf, &ctx, NID_subject_key_identifier, "hash"));
  FEDRA_RETURN_IF_ERROR(AddConfExtension(leaf, &ctx, NID_authority_key_identifier, "keyid, issuer"));
  FEDRA_RETURN_IF_ERROR(SignCertificate(leaf, ca.key.get()));
  return cert;
}

bool KeyMatchesCertificate(X509* cert, EVP_PKEY* key) {
  const bool match = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();  // a mismatch is an answer, not an error to report later
  return match;
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  auto write = [](BIO* bio, EVP_PKEY* k) {
    return PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  };
  return ToPem(key, write, "private key");
}

Result<std::string> CertificatePem(X509* cert) { return ToPem(cert, PEM_write_bio_X509, "certificate"); }

Result<std::string> RequestPem(X509_REQ* request) { return ToPem(request, PEM_write_bio_X509_REQ, "request"); }

Result<KeyPtr> ParsePrivateKeyPem(std::string_view pem) {
  return FromPem<KeyPtr>(pem, PEM_read_bio_PrivateKey, "PEM private key");
}

Result<CertPtr> ParseCertificatePem(std::string_view pem) {
  return FromPem<CertPtr>(pem, PEM_read_bio_X509, "PEM certificate");
}

Result<RequestPtr> ParseRequestPem(std::string_view pem) {
  return FromPem<RequestPtr>(pem, PEM_read_bio_X509_REQ, "PEM certificate request");
}

}  // namespace fedra::provision

#include "common/certificates.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

namespace fedra {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr auto kRecheckAfter = std::chrono::minutes(10);
constexpr size_t kMaxChecked = 1024;

struct ChainFree {
  void operator()(STACK_OF(X509) * chain) const { sk_X509_pop_free(chain, X509_free); }
};

// Every certificate of `chain` is within its validity period at `now`.
bool WithinDates(STACK_OF(X509) * chain, time_t now) {
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    if (X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0 || X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
      return false;
  }
  return true;
}

std::string SubjectField(X509_NAME* subject, int nid) {
  const int idx = X509_NAME_get_index_by_NID(subject, nid, -1);
  if (idx < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// Ed25519 keys sign the text itself; the others sign its SHA-256.
const EVP_MD* DigestFor(EVP_PKEY* key) { return EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256(); }

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<PeerIdentity> CertificateIdentity(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  PeerIdentity id{SubjectField(subject, NID_organizationalUnitName), SubjectField(subject, NID_commonName),
                  SubjectField(subject, NID_organizationName)};
  if (id.role.empty() || id.name.empty()) {
    return Unauthenticated("certificate carries no fedra role (OU) or name (CN)");
  }
  return id;
}

Result<std::unique_ptr<CertificateSigner>> CertificateSigner::Open(const TlsFiles& files) {
  std::unique_ptr<CertificateSigner> signer(new CertificateSigner);
  FEDRA_ASSIGN_OR_RETURN(signer->certificate_pem_, ReadText(files.cert));
  FEDRA_ASSIGN_OR_RETURN(std::string key_pem, ReadText(files.key));
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  signer->key_ = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!signer->key_) return InvalidArgument(files.key.string() + ": cannot load the private key");
  return signer;
}

CertificateSigner::~CertificateSigner() { EVP_PKEY_free(key_); }

Result<Bytes> CertificateSigner::Sign(std::string_view text) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(key_), nullptr, key_) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(text.data()), text.size()) !=
          1) {
    return Internal("signing with the certificate key failed");
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size()) != 1) {
    return Internal("signing with the certificate key failed");
  }
  signature.resize(size);
  return signature;
}

Result<std::unique_ptr<CertificateVerifier>> CertificateVerifier::Open(const std::filesystem::path& ca,
                                                                       std::function<Clock::time_point()> now) {
  if (!now) return InvalidArgument("a certificate verifier needs a clock");
  std::unique_ptr<CertificateVerifier> verifier(new CertificateVerifier);
  verifier->now_ = std::move(now);
  verifier->store_ = X509_STORE_new();
  if (!verifier->store_ || X509_STORE_load_file(verifier->store_, ca.c_str()) != 1) {
    ERR_clear_error();
    return InvalidArgument(ca.string() + ": cannot load the CA certificate");
  }
  return verifier;
}

CertificateVerifier::~CertificateVerifier() { X509_STORE_free(store_); }

Result<std::shared_ptr<X509>> CertificateVerifier::Issued(std::string_view certificate_pem) const {
  const Clock::time_point now = now_();
  const time_t now_seconds = Clock::to_time_t(now);
  {
    std::lock_guard lock(mu_);
    if (const auto it = checked_.find(certificate_pem); it != checked_.end()) {
      const auto age = now - it->second.at;  // negative if the clock was set back: check again
      if (age >= Clock::duration::zero() && age < kRecheckAfter && WithinDates(it->second.chain.get(), now_seconds))
        return it->second.certificate;
      checked_.erase(it);
    }
  }
  BioPtr bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  std::shared_ptr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509Free());
  if (!cert) {
    ERR_clear_error();
    return PermissionDenied("not a PEM certificate");
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> check(X509_STORE_CTX_new());
  if (!check || X509_STORE_CTX_init(check.get(), store_, cert.get(), nullptr) != 1) {
    return Internal("cannot set up a certificate check");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(check.get()), now_seconds);
  ++chain_checks_;
  if (X509_verify_cert(check.get()) != 1) {
    return PermissionDenied(std::string("the certificate is not one the federation CA issued: ") +
                            X509_verify_cert_error_string(X509_STORE_CTX_get_error(check.get())));
  }
  std::shared_ptr<STACK_OF(X509)> chain(X509_STORE_CTX_get1_chain(check.get()), ChainFree());
  if (!chain) return cert;  // checked, but not kept
  std::lock_guard lock(mu_);
  if (checked_.size() >= kMaxChecked) checked_.clear();  // more peers than any federation has: start over
  checked_.insert_or_assign(std::string(certificate_pem), Checked{cert, std::move(chain), now});
  return cert;
}

Result<PeerIdentity> CertificateVerifier::Verify(std::string_view certificate_pem, std::string_view text,
                                                 std::span<const uint8_t> signature) const {
  FEDRA_ASSIGN_OR_RETURN(std::shared_ptr<X509> cert, Issued(certificate_pem));
  FEDRA_ASSIGN_OR_RETURN(PeerIdentity id, CertificateIdentity(cert.get()));
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(key), nullptr, key) != 1 ||
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1) {
    ERR_clear_error();
    return PermissionDenied("the signature does not verify with " + id.ToString() + "'s certificate");
  }
  return id;
}

}  // namespace fedra

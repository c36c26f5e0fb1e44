// Signatures by a participant's certificate key, and their check against the federation CA,
// outside a TLS handshake: how sites vouch to each other, through a master, for the keys of a
// secure sum (federated/secure_sum.h).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/identity.h"
#include "common/status.h"

namespace fedra {

// The fedra identity in a certificate's subject (OU role, CN name, O federation).
Result<PeerIdentity> CertificateIdentity(X509* cert);

class CertificateSigner {
 public:
  // The participant's certificate and key from its kit.
  static Result<std::unique_ptr<CertificateSigner>> Open(const TlsFiles& files);
  ~CertificateSigner();

  Result<Bytes> Sign(std::string_view text) const;
  const std::string& certificate_pem() const { return certificate_pem_; }

 private:
  CertificateSigner() = default;
  EVP_PKEY* key_ = nullptr;
  std::string certificate_pem_;
};

class CertificateVerifier {
 public:
  using Clock = std::chrono::system_clock;
  // Trusts only the federation CA in `ca`. `now` tells the time that certificates' dates and kept
  // checks are judged by (tests move it); it is called from every thread that verifies.
  static Result<std::unique_ptr<CertificateVerifier>> Open(
      const std::filesystem::path& ca, std::function<Clock::time_point()> now = [] { return Clock::now(); });
  ~CertificateVerifier();

  // The identity of `certificate_pem` once it is shown to be issued by the CA and to have signed
  // `text` with `signature`; kPermissionDenied saying which check failed otherwise.
  Result<PeerIdentity> Verify(std::string_view certificate_pem, std::string_view text,
                              std::span<const uint8_t> signature) const;

  // How many times a certificate's chain has been checked against the CA.
  uint64_t chain_checks() const { return chain_checks_; }

 private:
  struct Checked {
    std::shared_ptr<X509> certificate;
    std::shared_ptr<STACK_OF(X509)> chain;  // the certificate up to the CA, each checked for its dates
    Clock::time_point at;
  };

  CertificateVerifier() = default;
  // `certificate_pem` parsed, once shown to be issued by the CA.
  Result<std::shared_ptr<X509>> Issued(std::string_view certificate_pem) const;

  X509_STORE* store_ = nullptr;
  std::function<Clock::time_point()> now_;
  // Certificates shown to be the CA's, by their PEM text, so that a site checks each peer's chain
  // once and not at every phase of every sum (a round of secure training checks 28 signatures at
  // four sites). An entry serves for kRecheckAfter, and only while every certificate of its
  // chain is within its validity period.
  mutable std::mutex mu_;
  mutable std::map<std::string, Checked, std::less<>> checked_;
  mutable std::atomic<uint64_t> chain_checks_ = 0;
};

}  // namespace fedra

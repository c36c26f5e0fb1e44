#include "common/tls.h"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/certificates.h"

namespace fedra {
namespace {

namespace ssl = boost::asio::ssl;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

Status CheckKeyPermissions(const std::filesystem::path& key) {
  struct stat st {};
  if (::stat(key.c_str(), &st) != 0) return NotFound(key.string() + ": private key not found");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", st.st_mode & 0777);
    return PermissionDenied(key.string() + ": private key is accessible by group or others (mode " + mode +
                            "); run chmod 600 on it");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsFiles& files, TlsSide side) {
  for (const auto* p : {&files.cert, &files.key, &files.ca}) {
    if (!std::filesystem::exists(*p)) return NotFound(p->string() + ": file not found");
  }
  FEDRA_RETURN_IF_ERROR(CheckKeyPermissions(files.key));

  auto ctx =
      std::make_shared<ssl::context>(side == TlsSide::kClient ? ssl::context::tls_client : ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  // No session tickets: every connection authenticates with certificates afresh.
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);

  if (SSL_CTX_use_certificate_chain_file(native, files.cert.c_str()) != 1) {
    return InvalidArgument(files.cert.string() + ": cannot load certificate: " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return InvalidArgument(files.key.string() + ": cannot load private key: " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument(files.key.string() + ": private key does not match " + files.cert.string());
  }
  // The federation CA is the only trust anchor: no system store.
  if (SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr) != 1) {
    return InvalidArgument(files.ca.string() + ": cannot load CA certificate: " + OpenSslError());
  }
  SSL_CTX_set_verify(
      native, side == TlsSide::kHttpsServer ? SSL_VERIFY_NONE : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
      nullptr);
  SSL_CTX_set_verify_depth(native, 2);
  return ctx;
}

Result<PeerIdentity> PeerIdentityOf(SSL* ssl) {
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    return Unauthenticated(std::string("peer certificate not verified: ") +
                           X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return Unauthenticated("peer presented no certificate");
  return CertificateIdentity(cert);
}

Status CheckPeer(const PeerIdentity& peer, std::string_view role, std::string_view name) {
  if (peer.role != role) {
    return PermissionDenied("peer certificate is for " + peer.ToString() + ", expected a " + std::string(role));
  }
  if (!name.empty() && peer.name != name) {
    return PermissionDenied("peer certificate is for " + peer.ToString() + ", expected " + std::string(role) + " '" +
                            std::string(name) + "'");
  }
  return Status::Ok();
}

}  // namespace fedra

// Who a participant is and where its TLS kit lives: plain data, so that configuration and the
// site's executor can name peers without compiling Asio's TLS layer (that is common/tls.h).
#pragma once

#include <filesystem>
#include <string>

namespace fedra {

// A participant's startup-kit files.
struct TlsFiles {
  std::filesystem::path cert;  // PEM certificate
  std::filesystem::path key;   // PEM private key; must not be readable by group or others
  std::filesystem::path ca;    // the federation CA certificate, the only trust anchor

  // The files of the kit in `dir`, under the names provisioning gives them.
  static TlsFiles InKit(const std::filesystem::path& dir) {
    return {dir / "cert.pem", dir / "key.pem", dir / "ca.crt"};
  }
};

// Who is at the other end, read from the verified peer certificate.
struct PeerIdentity {
  std::string role;        // "master" or "site" (subject OU)
  std::string name;        // subject CN
  std::string federation;  // subject O

  std::string ToString() const { return role + " '" + name + "'"; }
};

}  // namespace fedra

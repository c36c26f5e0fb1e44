// Mutual TLS for every fedra connection: TLS 1.3 only, both sides present a certificate signed by
// the federation CA, and each side then checks the other's role and name from the certificate
// subject (OU = role, CN = name), not only the CA signature.
#pragma once

#include <memory>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "common/identity.h"
#include "common/status.h"

namespace fedra {

// kHttpsServer serves the REST API: its clients (browsers, scripts) authenticate with bearer
// tokens, so it asks for no client certificate.
enum class TlsSide { kServer, kClient, kHttpsServer };

// A context that speaks only TLS 1.3, trusts only `files.ca` and requires the peer's certificate
// (except kHttpsServer).
// Fails with a message naming the file when a file is missing, unreadable, mismatched, or the key
// is readable by others.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsFiles& files, TlsSide side);

// The identity in the peer certificate of a completed handshake on `ssl`.
Result<PeerIdentity> PeerIdentityOf(SSL* ssl);

// Ok when `peer` has role `role` and, when `name` is not empty, that name.
Status CheckPeer(const PeerIdentity& peer, std::string_view role, std::string_view name);

}  // namespace fedra

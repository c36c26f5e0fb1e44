// The site's half of the secure sum (federated/secure_sum.h): each session's keys and shares,
// the checks that every other site's keys were signed by that site's certificate, and the
// one-time reveal of shares. A session belongs to the master that opened it and is forgotten
// after its unmask phase or after ten minutes.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/certificates.h"
#include "common/matrix.h"
#include "common/status.h"
#include "federated/secure_sum.h"
#include "federated/secure_sum_crypto.h"

namespace fedra {

class SecureSumSite {
 public:
  // `min_sites`: the fewest sites a sum of secure-aggregate values may cover (site.json).
  SecureSumSite(std::string site, std::unique_ptr<CertificateSigner> signer,
                std::unique_ptr<CertificateVerifier> verifier, int min_sites);

  int min_sites() const { return min_sites_; }

  // The phases, for requests from `master`. Each answers the response's meta, or its packed
  // words for the mask phase; `secure_only`: the value may leave only inside a sum over at
  // least min_sites sites (secure-aggregate data).
  Result<nlohmann::json> Keys(const std::string& master, const nlohmann::json& params);
  Result<nlohmann::json> Shares(const std::string& master, const nlohmann::json& params);
  // `prepare` (when given) changes the value before it is encoded, knowing the session's
  // threshold: DP-FedAvg's clipping and noise.
  using Prepare = std::function<Status(int threshold, Matrix* value)>;
  Result<Bytes> Mask(const std::string& master, const nlohmann::json& params, const Matrix& value, bool secure_only,
                     const Prepare& prepare = nullptr);
  Result<nlohmann::json> Unmask(const std::string& master, const nlohmann::json& params);

 private:
  enum class Stage { kKeys, kShared, kMasked };
  struct Session {
    SecureSumKeysParams params;
    Stage stage = Stage::kKeys;
    X25519Keys cipher, mask;
    Secret32 seed{};                              // the self mask's seed
    std::map<std::string, AdvertisedKeys> peers;  // verified keys, this site's among them
    std::map<std::string, SharePair> received;    // shares from the sites that shared
    bool secure_only = false;
    std::chrono::steady_clock::time_point opened;
  };
  using SessionKey = std::pair<std::string, uint64_t>;  // master, session

  // The session in `stage`, or the error saying why not. Caller holds mu_.
  Result<Session*> Find(const SessionKey& key, Stage stage, std::string_view phase);
  Status CheckPeer(const Session& s, const AdvertisedKeys& keys) const;
  Status CheckSites(const Session& s, size_t count, std::string_view what) const;

  const std::string site_;
  const std::unique_ptr<CertificateSigner> signer_;
  const std::unique_ptr<CertificateVerifier> verifier_;
  const int min_sites_;
  std::mutex mu_;
  std::map<SessionKey, Session> sessions_;  // guarded by mu_
};

}  // namespace fedra

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
  // words for the mask phase. `secure_dataset` names the secure-aggregate dataset the value
  // comes from (empty: none); such a value leaves only in a sum over at least min_sites sites,
  // every one of which sees it through, and always the same sites for one master and dataset:
  // two sums over groups that differ by a site would differ by that site's value.
  Result<nlohmann::json> Keys(const std::string& master, const nlohmann::json& params);
  Result<nlohmann::json> Shares(const std::string& master, const nlohmann::json& params);
  // `prepare` (when given) changes the value before it is encoded, knowing the session's
  // threshold: DP-FedAvg's clipping and noise.
  using Prepare = std::function<Status(int threshold, Matrix* value)>;
  Result<Bytes> Mask(const std::string& master, const nlohmann::json& params, const Matrix& value,
                     const std::string& secure_dataset, const Prepare& prepare = nullptr);
  Result<nlohmann::json> Consistency(const std::string& master, const nlohmann::json& params);
  Result<nlohmann::json> Unmask(const std::string& master, const nlohmann::json& params);

 private:
  enum class Stage { kKeys, kShared, kMasked, kSigned };
  struct Session {
    SecureSumKeysParams params;
    Stage stage = Stage::kKeys;
    X25519Keys cipher, mask;
    Secret32 seed{};                              // the self mask's seed
    std::map<std::string, AdvertisedKeys> peers;  // verified keys, this site's among them
    std::map<std::string, Secret32> seal_keys;    // by peer: what shares to and from it are sealed under
    std::map<std::string, SharePair> received;    // shares from the sites that shared
    std::string secure_dataset;                   // the value's secure-aggregate dataset, if any
    bool secure_only() const { return !secure_dataset.empty(); }
    std::vector<std::string> signed_survivors;  // sorted: the one list this site signed
    std::chrono::steady_clock::time_point opened;
  };
  using SessionKey = std::pair<std::string, uint64_t>;  // master, session

  // The session in `stage`, or the error saying why not. Caller holds mu_.
  Result<Session*> Find(const SessionKey& key, Stage stage, std::string_view phase);
  Status CheckPeer(const Session& s, const AdvertisedKeys& keys) const;
  Status CheckSites(const Session& s, size_t count, std::string_view what) const;
  // For secure-aggregate values: all of the session's sites take part, and they are the group
  // this master's sums of the dataset have always covered (pinned by its first). Holds mu_.
  Status CheckWholeGroup(const std::string& master, const Session& s, size_t count, std::string_view phase);
  // Ok when every survivor shared with this site, this site is one, and there are enough.
  Status CheckSurvivors(const Session& s, const std::vector<std::string>& survivors, std::string_view phase) const;

  const std::string site_;
  const std::unique_ptr<CertificateSigner> signer_;
  const std::unique_ptr<CertificateVerifier> verifier_;
  const int min_sites_;
  std::mutex mu_;
  std::map<SessionKey, Session> sessions_;  // guarded by mu_
  // Per master and secure-aggregate dataset, the sites its sums cover (sorted); guarded by mu_.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> groups_;
};

}  // namespace fedra

#include "site-agent/secure_sum_site.h"

#include <algorithm>
#include <set>

#include "common/digest.h"

namespace fedra {
namespace {

constexpr auto kSessionLifetime = std::chrono::minutes(10);
constexpr size_t kMaxSessions = 64;

std::string Phase(std::string_view phase) { return "secure sum " + std::string(phase); }

}  // namespace

SecureSumSite::SecureSumSite(std::string site, std::unique_ptr<CertificateSigner> signer,
                             std::unique_ptr<CertificateVerifier> verifier, int min_sites)
    : site_(std::move(site)), signer_(std::move(signer)), verifier_(std::move(verifier)), min_sites_(min_sites) {}

Result<SecureSumSite::Session*> SecureSumSite::Find(const SessionKey& key, Stage stage, std::string_view phase) {
  const auto it = sessions_.find(key);
  if (it == sessions_.end() || std::chrono::steady_clock::now() - it->second.opened > kSessionLifetime) {
    if (it != sessions_.end()) sessions_.erase(it);
    return FailedPrecondition(Phase(phase) + ": no session " + std::to_string(key.second) +
                              " is open at this site (it expired, the site restarted, or it never began)");
  }
  if (it->second.stage != stage) {
    sessions_.erase(it);  // out of order: the session cannot be trusted to go on
    return FailedPrecondition(Phase(phase) + ": session " + std::to_string(key.second) +
                              " is not at this phase; it is closed");
  }
  return &it->second;
}

Status SecureSumSite::CheckSites(const Session& s, size_t count, std::string_view what) const {
  if (count < static_cast<size_t>(s.params.threshold)) {
    return FailedPrecondition(std::to_string(count) + " sites " + std::string(what) +
                              ", fewer than the session's threshold of " + std::to_string(s.params.threshold));
  }
  if (s.secure_only() && count < static_cast<size_t>(min_sites_)) {
    return PermissionDenied("this site's secure-aggregate data leaves only inside a sum over at least " +
                            std::to_string(min_sites_) + " sites, and " + std::to_string(count) + " " +
                            std::string(what) + " (limits.min_secure_sum_sites in site.json)");
  }
  return Status::Ok();
}

Status SecureSumSite::CheckWholeGroup(const std::string& master, const Session& s, size_t count,
                                      std::string_view phase) {
  if (!s.secure_only()) return Status::Ok();
  const std::string level = "dataset '" + s.secure_dataset + "' is secure-aggregate: ";
  if (count != s.params.sites.size()) {
    return PermissionDenied(Phase(phase) + ": " + level +
                            "every site of its sums must see them through (a sum without one site would differ from "
                            "the whole by that site's value); " +
                            std::to_string(s.params.sites.size() - count) + " did not");
  }
  std::vector<std::string> group = s.params.sites;
  std::sort(group.begin(), group.end());
  const auto [pinned, first] = groups_.try_emplace({master, s.secure_dataset}, group);
  if (!first && pinned->second != group) {
    std::string sites;
    for (const std::string& site : pinned->second) sites += (sites.empty() ? "" : ", ") + site;
    return PermissionDenied(Phase(phase) + ": " + level + "this master's sums of it cover sites " + sites +
                            ", and a sum over other sites could be differenced with them");
  }
  return Status::Ok();
}

Result<nlohmann::json> SecureSumSite::Keys(const std::string& master, const nlohmann::json& params) {
  FEDRA_ASSIGN_OR_RETURN(SecureSumKeysParams p, SecureSumKeysParams::Parse(params));
  if (std::find(p.sites.begin(), p.sites.end(), site_) == p.sites.end()) {
    return InvalidArgument(Phase(kSecureSumKeys) + ": this site ('" + site_ + "') is not among the session's sites");
  }
  Session s;
  s.params = std::move(p);
  s.opened = std::chrono::steady_clock::now();
  FEDRA_ASSIGN_OR_RETURN(s.cipher, NewX25519Keys());
  FEDRA_ASSIGN_OR_RETURN(s.mask, NewX25519Keys());
  AdvertisedKeys own{site_, s.cipher.public_key, s.mask.public_key, {}, signer_->certificate_pem()};
  FEDRA_ASSIGN_OR_RETURN(own.signature, signer_->Sign(SignedKeysText(s.params, own)));
  nlohmann::json meta = own.ToJson();
  meta["min_sites"] = min_sites_;
  s.peers[site_] = std::move(own);

  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(sessions_, [&](const auto& entry) { return now - entry.second.opened > kSessionLifetime; });
  const SessionKey key{master, s.params.session};
  if (sessions_.count(key))
    return AlreadyExists(Phase(kSecureSumKeys) + ": session " + std::to_string(key.second) + " is already open");
  if (sessions_.size() >= kMaxSessions) {
    return ResourceExhausted(Phase(kSecureSumKeys) + ": " + std::to_string(kMaxSessions) +
                             " sessions are open at this site; try again when some have finished");
  }
  sessions_.emplace(key, std::move(s));
  return meta;
}

Status SecureSumSite::CheckPeer(const Session& s, const AdvertisedKeys& keys) const {
  Result<PeerIdentity> id = verifier_->Verify(keys.certificate, SignedKeysText(s.params, keys), keys.signature);
  if (!id.ok()) {
    return PermissionDenied(Phase(kSecureSumShares) + ": the keys given for site '" + keys.site +
                            "' are refused: " + id.status().message());
  }
  if (id->role != "site" || id->name != keys.site) {
    return PermissionDenied(Phase(kSecureSumShares) + ": the keys given for site '" + keys.site + "' are signed by " +
                            id->ToString());
  }
  return Status::Ok();
}

Result<nlohmann::json> SecureSumSite::Shares(const std::string& master, const nlohmann::json& params) {
  FEDRA_ASSIGN_OR_RETURN(SecureSumSharesParams p, SecureSumSharesParams::Parse(params));
  std::lock_guard lock(mu_);
  FEDRA_ASSIGN_OR_RETURN(Session * s, Find({master, p.session}, Stage::kKeys, kSecureSumShares));
  const auto fail = [&](Status status) {
    sessions_.erase({master, p.session});
    return status;
  };
  const std::set<std::string> sites(s->params.sites.begin(), s->params.sites.end());
  std::map<std::string, AdvertisedKeys> peers;
  for (AdvertisedKeys& keys : p.keys) {
    if (!sites.count(keys.site) || peers.count(keys.site)) {
      return fail(InvalidArgument(Phase(kSecureSumShares) + ": keys for '" + keys.site +
                                  "', which is not a site of the session or is named twice"));
    }
    if (keys.site == site_) {
      const AdvertisedKeys& own = s->peers.at(site_);
      if (keys.cipher_key != own.cipher_key || keys.mask_key != own.mask_key) {
        return fail(
            PermissionDenied(Phase(kSecureSumShares) + ": the keys given for this site are not the ones it made"));
      }
    } else {
      if (Status verified = CheckPeer(*s, keys); !verified.ok()) return fail(verified);
    }
    peers[keys.site] = std::move(keys);
  }
  if (!peers.count(site_)) return fail(InvalidArgument(Phase(kSecureSumShares) + ": this site's own keys are missing"));
  if (Status enough = CheckSites(*s, peers.size(), "advertised keys"); !enough.ok()) return fail(enough);
  s->peers = std::move(peers);
  Result<Secret32> seed = RandomSecret();
  if (!seed.ok()) return fail(seed.status());
  s->seed = *seed;
  // Shares at point i + 1 for the i-th site of the session, so points never depend on who is left.
  const int n = static_cast<int>(s->params.sites.size());
  Result<std::vector<SecretShare>> seed_shares = SplitSecret(s->seed, n, s->params.threshold);
  Result<std::vector<SecretShare>> key_shares = SplitSecret(s->mask.private_key, n, s->params.threshold);
  if (!seed_shares.ok() || !key_shares.ok()) return fail(seed_shares.ok() ? key_shares.status() : seed_shares.status());
  nlohmann::json sealed = nlohmann::json::object();
  std::map<std::string, Secret32> seal_keys;  // the mask phase opens each peer's share with its key
  for (size_t i = 0; i < s->params.sites.size(); ++i) {
    const std::string& to = s->params.sites[i];
    const auto peer = s->peers.find(to);
    if (peer == s->peers.end()) continue;
    Result<Secret32> key = AgreeSecret(s->cipher.private_key, peer->second.cipher_key, kSecureSumSealPurpose);
    if (!key.ok()) return fail(key.status());
    Result<Bytes> box =
        Seal(*key, SharePair{(*seed_shares)[i], (*key_shares)[i]}.Encode(), ShareContext(p.session, site_, to));
    if (!box.ok()) return fail(box.status());
    sealed[to] = LowerHex(*box);
    seal_keys[to] = *key;
  }
  s->seal_keys = std::move(seal_keys);
  s->stage = Stage::kShared;
  return nlohmann::json{{"shares", std::move(sealed)}};
}

Result<Bytes> SecureSumSite::Mask(const std::string& master, const nlohmann::json& params, const Matrix& value,
                                  const std::string& secure_dataset, const Prepare& prepare) {
  FEDRA_ASSIGN_OR_RETURN(SecureSumMaskParams p, SecureSumMaskParams::Parse(params));
  std::lock_guard lock(mu_);
  FEDRA_ASSIGN_OR_RETURN(Session * s, Find({master, p.session}, Stage::kShared, kSecureSumMask));
  const auto fail = [&](Status status) {
    sessions_.erase({master, p.session});
    return status;
  };
  s->secure_dataset = secure_dataset;
  if (!p.shares.count(site_))
    return fail(InvalidArgument(Phase(kSecureSumMask) + ": this site's own share is missing"));
  if (Status enough = CheckSites(*s, p.shares.size(), "shared their secrets"); !enough.ok()) return fail(enough);
  if (Status whole = CheckWholeGroup(master, *s, p.shares.size(), kSecureSumMask); !whole.ok()) return fail(whole);
  std::map<std::string, SharePair> received;
  for (const auto& [from, box] : p.shares) {
    const auto key = s->seal_keys.find(from);
    if (key == s->seal_keys.end() || !s->peers.count(from)) {
      return fail(InvalidArgument(Phase(kSecureSumMask) + ": a share from '" + from + "', which advertised no keys"));
    }
    Result<Bytes> plain = Unseal(key->second, box, ShareContext(p.session, from, site_));
    if (!plain.ok()) return fail(plain.status().WithContext("the share from '" + from + "'"));
    Result<SharePair> pair = SharePair::Decode(*plain);
    if (!pair.ok()) return fail(pair.status());
    received[from] = *pair;
  }
  s->seal_keys.clear();  // every share is open
  Matrix prepared;
  if (prepare) {
    prepared = value;
    if (Status ready = prepare(s->params.threshold, &prepared); !ready.ok()) return fail(ready);
  }
  std::vector<fedra::Mask> masks = {{s->seed, false}};
  for (const auto& [other, pair] : received) {
    if (other == site_) continue;
    Result<Secret32> seed = AgreeSecret(s->mask.private_key, s->peers.at(other).mask_key, kSecureSumMaskPurpose);
    if (!seed.ok()) return fail(seed.status());
    masks.push_back({*seed, site_ > other});
  }
  const int summands = static_cast<int>(received.size());
  Result<Bytes> packed = MaskedFixedPoint(prepare ? prepared : value, p.fraction_bits, summands, p.word_bits, masks);
  if (!packed.ok()) return fail(packed.status());
  s->received = std::move(received);
  s->stage = Stage::kMasked;
  return packed;
}

Status SecureSumSite::CheckSurvivors(const Session& s, const std::vector<std::string>& survivors,
                                     std::string_view phase) const {
  for (const std::string& site : survivors) {
    if (!s.received.count(site)) {
      return InvalidArgument(Phase(phase) + ": '" + site + "' is named a survivor but never shared with this site");
    }
  }
  if (std::find(survivors.begin(), survivors.end(), site_) == survivors.end()) {
    return InvalidArgument(Phase(phase) + ": this site is not among the survivors");
  }
  return CheckSites(s, survivors.size(), "sent masked values");
}

Result<nlohmann::json> SecureSumSite::Consistency(const std::string& master, const nlohmann::json& params) {
  FEDRA_ASSIGN_OR_RETURN(SecureSumUnmaskParams p, SecureSumUnmaskParams::Parse(params));
  std::lock_guard lock(mu_);
  FEDRA_ASSIGN_OR_RETURN(Session * s, Find({master, p.session}, Stage::kMasked, kSecureSumConsistency));
  Status ok = CheckSurvivors(*s, p.survivors, kSecureSumConsistency);
  if (ok.ok()) ok = CheckWholeGroup(master, *s, p.survivors.size(), kSecureSumConsistency);
  if (!ok.ok()) {
    sessions_.erase({master, p.session});
    return ok;
  }
  Result<Bytes> signature = signer_->Sign(SurvivorsText(master, p.session, p.survivors));
  if (!signature.ok()) return signature.status();
  s->signed_survivors = p.survivors;
  std::sort(s->signed_survivors.begin(), s->signed_survivors.end());
  s->stage = Stage::kSigned;
  return nlohmann::json{{"signature", LowerHex(*signature)}};
}

Result<nlohmann::json> SecureSumSite::Unmask(const std::string& master, const nlohmann::json& params) {
  FEDRA_ASSIGN_OR_RETURN(SecureSumUnmaskParams p, SecureSumUnmaskParams::Parse(params));
  std::lock_guard lock(mu_);
  FEDRA_ASSIGN_OR_RETURN(Session * s, Find({master, p.session}, Stage::kSigned, kSecureSumUnmask));
  // Whatever happens next, the session answers no second unmask: two answers with different
  // survivors would reveal both secrets of some site.
  const Session session = std::move(*s);
  sessions_.erase({master, p.session});
  std::vector<std::string> sorted = p.survivors;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != session.signed_survivors) {
    return PermissionDenied(Phase(kSecureSumUnmask) + ": the survivors are not the ones this site signed");
  }
  // A threshold of the survivors must have signed this very list: with more than half the sites
  // needed, no other list can have as many signatures, so every site reveals for the same list.
  const std::string text = SurvivorsText(master, p.session, p.survivors);
  size_t valid = 0;
  for (const auto& [site, signature] : p.signatures) {
    const auto peer = session.peers.find(site);
    if (peer == session.peers.end() || !std::binary_search(sorted.begin(), sorted.end(), site)) continue;
    Result<PeerIdentity> id = verifier_->Verify(peer->second.certificate, text, signature);
    if (id.ok() && id->role == "site" && id->name == site) ++valid;
  }
  if (valid < static_cast<size_t>(session.params.threshold)) {
    return PermissionDenied(Phase(kSecureSumUnmask) + ": " + std::to_string(valid) +
                            " survivors signed this list of survivors, fewer than the threshold of " +
                            std::to_string(session.params.threshold));
  }
  const std::set<std::string> survivors(p.survivors.begin(), p.survivors.end());
  nlohmann::json seeds = nlohmann::json::object(), keys = nlohmann::json::object();
  for (const auto& [site, pair] : session.received) {
    if (survivors.count(site)) {
      seeds[site] = LowerHex(pair.seed.Encode());
    } else {
      keys[site] = LowerHex(pair.key.Encode());
    }
  }
  return nlohmann::json{{"seed_shares", std::move(seeds)}, {"key_shares", std::move(keys)}};
}

}  // namespace fedra

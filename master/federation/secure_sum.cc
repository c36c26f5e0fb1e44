#include "master/federation/secure_sum.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "common/digest.h"
#include "common/logging.h"
#include "federated/secure_sum.h"
#include "federated/secure_sum_crypto.h"

namespace fedra {
namespace {

// A site that cannot be reached or does not answer in time drops out; any other failure is a
// refusal that stops the sum.
bool DropsOut(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// A non-negative integer field of a site's answer, or -1 when it is missing or of another type.
int64_t Count(const nlohmann::json& meta, const char* key) {
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_number_unsigned()) return -1;
  return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), INT64_MAX));
}

class SumRun {
 public:
  SumRun(Federation& fed, const std::map<std::string, VarId>& vars, const SecureSumOptions& options)
      : fed_(fed), vars_(vars), options_(options) {
    std::random_device device;
    session_.session = (uint64_t{device()} << 32 | device()) | 1;
    for (const auto& [site, var] : vars) session_.sites.push_back(site);
    session_.threshold = SecureSumThreshold(options, static_cast<int>(vars.size()));
  }

  Result<SecureSumResult> Run() {
    if (vars_.size() < 2)
      return InvalidArgument("a secure sum needs at least 2 sites, got " + std::to_string(vars_.size()));
    std::map<std::string, AdvertisedKeys> keys;
    FEDRA_RETURN_IF_ERROR(AdvertiseKeys(&keys));
    std::map<std::string, std::map<std::string, Bytes>> inbox;  // receiver -> sender -> sealed
    FEDRA_RETURN_IF_ERROR(ShareKeys(keys, &inbox));
    if (options_.word_bits == 32) {
      FEDRA_RETURN_IF_ERROR(Sum<uint32_t>(keys, inbox));
    } else {
      FEDRA_RETURN_IF_ERROR(Sum<uint64_t>(keys, inbox));
    }
    result_.resolution = SecureSumResolution(options_.fraction_bits, static_cast<int>(shared_.size()));
    return std::move(result_);
  }

 private:
  // One phase: `requests` to each site named, the answers of those that answered, and the
  // sites that dropped out added to `dropped`.
  Result<std::map<std::string, Response>> Call(const SiteRequests& requests, std::vector<std::string>* dropped,
                                               std::string_view phase) {
    std::map<std::string, Response> answers;
    for (auto& [site, result] : fed_.Call(requests)) {
      Status status = result.ok() ? result->at(0).status : result.status();
      if (status.ok()) {
        answers[site] = std::move(result->at(0));
      } else if (DropsOut(status)) {
        FEDRA_LOG(kWarn) << "secure sum " << phase << ": site '" << site << "' dropped out: " << status.message();
        dropped->push_back(site);
      } else {
        return status.WithContext("site '" + site + "'");
      }
    }
    if (options_.on_phase) options_.on_phase(phase, answers.size());
    if (answers.size() < static_cast<size_t>(session_.threshold)) {
      return Unavailable("secure sum " + std::string(phase) + ": " + std::to_string(answers.size()) + " of " +
                         std::to_string(vars_.size()) + " sites answered, fewer than the threshold of " +
                         std::to_string(session_.threshold));
    }
    return answers;
  }

  Status AdvertiseKeys(std::map<std::string, AdvertisedKeys>* keys) {
    SiteRequests requests;
    for (const std::string& site : session_.sites) {
      requests[site].push_back(Request::SecureSum(kSecureSumKeys, session_.ToJson()));
    }
    FEDRA_ASSIGN_OR_RETURN(auto answers, Call(requests, &result_.left_out, kSecureSumKeys));
    for (auto& [site, answer] : answers) {
      FEDRA_ASSIGN_OR_RETURN(AdvertisedKeys k, AdvertisedKeys::Parse(answer.meta));
      if (k.site != site) return DataLoss("secure sum: site '" + site + "' advertised keys as '" + k.site + "'");
      min_rows_[site] = static_cast<uint64_t>(std::max<int64_t>(0, Count(answer.meta, "min_rows")));
      (*keys)[site] = std::move(k);
    }
    return Status::Ok();
  }

  Status ShareKeys(const std::map<std::string, AdvertisedKeys>& keys,
                   std::map<std::string, std::map<std::string, Bytes>>* inbox) {
    SecureSumSharesParams params{session_.session, {}};
    for (const auto& [site, k] : keys) params.keys.push_back(k);
    const nlohmann::json json = params.ToJson();
    SiteRequests requests;
    for (const auto& [site, k] : keys) requests[site].push_back(Request::SecureSum(kSecureSumShares, json));
    FEDRA_ASSIGN_OR_RETURN(auto answers, Call(requests, &result_.left_out, kSecureSumShares));
    for (auto& [from, answer] : answers) {
      const auto sealed = answer.meta.find("shares");
      if (sealed == answer.meta.end() || !sealed->is_object())
        return DataLoss("secure sum: site '" + from + "' sent no shares");
      for (const auto& [to, box] : sealed->items()) {
        Bytes bytes;
        if (!box.is_string() || !FromHex(box.get<std::string>(), &bytes)) {
          return DataLoss("secure sum: site '" + from + "' sent a share that is not hex");
        }
        if (answers.count(to)) (*inbox)[to][from] = std::move(bytes);
      }
      shared_.insert(from);
    }
    // Every site that shared must have sealed a share for every other: a missing one would leave
    // a pairwise mask in the sum.
    for (const std::string& to : shared_) {
      if (inbox->count(to) == 0 || (*inbox)[to].size() != shared_.size()) {
        return DataLoss("secure sum: not every site sent a share to site '" + to + "'");
      }
    }
    return Status::Ok();
  }

  // The masked values summed in Z_2^(bits of Word), unmasked, and decoded into result_.sum.
  template <typename Word>
  Status Sum(const std::map<std::string, AdvertisedKeys>& keys,
             const std::map<std::string, std::map<std::string, Bytes>>& inbox) {
    std::vector<Word> sum;
    FEDRA_RETURN_IF_ERROR(CollectMasked(inbox, &sum));
    std::vector<Mask> masks;
    FEDRA_RETURN_IF_ERROR(Unmask(keys, &masks));
    FEDRA_RETURN_IF_ERROR(ApplyMasks(masks, std::span<Word>(sum)));
    result_.sum = DecodeFixedPoint(std::span<const Word>(sum), rows_, cols_, options_.fraction_bits);
    return Status::Ok();
  }

  template <typename Word>
  Status CollectMasked(const std::map<std::string, std::map<std::string, Bytes>>& inbox, std::vector<Word>* sum) {
    SiteRequests requests;
    for (const std::string& site : shared_) {
      SecureSumMaskParams params{session_.session, {}, options_.fraction_bits, options_.dp, options_.word_bits};
      if (const auto it = inbox.find(site); it != inbox.end()) params.shares = it->second;
      requests[site].push_back(Request::SecureSum(kSecureSumMask, params.ToJson(), {vars_.at(site)}));
    }
    FEDRA_ASSIGN_OR_RETURN(auto answers, Call(requests, &result_.recovered, kSecureSumMask));
    bool first = true;
    for (auto& [site, answer] : answers) {
      const int64_t rows = Count(answer.meta, "rows"), cols = Count(answer.meta, "cols");
      if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / 8 / cols)) {
        return DataLoss("secure sum: site '" + site + "' masked a value of no valid shape");
      }
      if (first) {
        rows_ = rows;
        cols_ = cols;
        sum->assign(answer.packed.size() / sizeof(Word), 0);
        first = false;
      }
      if (rows != rows_ || cols != cols_ || rows < 0 || cols < 0 ||
          answer.packed.size() != static_cast<size_t>(rows * cols) * sizeof(Word)) {
        return DataLoss("secure sum: site '" + site + "' masked a value of another shape or word size (" +
                        std::to_string(rows) + " x " + std::to_string(cols) + " in " +
                        std::to_string(answer.packed.size()) + " bytes, where " + std::to_string(rows_) + " x " +
                        std::to_string(cols_) + " in " + std::to_string(8 * sizeof(Word)) +
                        "-bit words was asked for; a site from before 32-bit words sends 64-bit ones)");
      }
      AddWords(std::span<Word>(*sum), std::span(reinterpret_cast<const Word*>(answer.packed.data()), sum->size()));
      result_.summed.push_back(site);
      result_.bytes_up += answer.packed.size();
      result_.min_rows = std::max(result_.min_rows, min_rows_[site]);
    }
    return Status::Ok();
  }

  // The masks to remove from the sum: every summed site's self mask, and the pairwise masks of
  // those that dropped after sharing.
  Status Unmask(const std::map<std::string, AdvertisedKeys>& keys, std::vector<Mask>* masks) {
    // The survivors sign the list of survivors; each reveals its shares only for a list that a
    // threshold of them signed.
    SecureSumUnmaskParams params{session_.session, result_.summed, {}};
    SiteRequests requests;
    for (const std::string& site : result_.summed)
      requests[site].push_back(Request::SecureSum(kSecureSumConsistency, params.ToJson()));
    std::vector<std::string> late;  // sent their values, but not their shares: the sum still comes out
    FEDRA_ASSIGN_OR_RETURN(auto signed_by, Call(requests, &late, kSecureSumConsistency));
    requests.clear();
    for (auto& [site, answer] : signed_by) {
      Bytes signature;
      const auto hex = answer.meta.find("signature");
      if (hex == answer.meta.end() || !hex->is_string() || !FromHex(hex->get<std::string>(), &signature)) {
        return DataLoss("secure sum: site '" + site + "' signed no list of survivors");
      }
      params.signatures[site] = std::move(signature);
    }
    for (const auto& [site, answer] : signed_by) {
      requests[site].push_back(Request::SecureSum(kSecureSumUnmask, params.ToJson()));
    }
    FEDRA_ASSIGN_OR_RETURN(auto answers, Call(requests, &late, kSecureSumUnmask));
    std::map<std::string, std::vector<SecretShare>> seed_shares, key_shares;
    for (auto& [from, answer] : answers) {
      for (const auto& [field, into] : {std::pair{"seed_shares", &seed_shares}, std::pair{"key_shares", &key_shares}}) {
        const auto list = answer.meta.find(field);
        if (list == answer.meta.end() || !list->is_object())
          return DataLoss("secure sum: site '" + from + "' revealed no " + field);
        for (const auto& [of, hex] : list->items()) {
          Bytes bytes;
          if (!hex.is_string() || !FromHex(hex.get<std::string>(), &bytes))
            return DataLoss("secure sum: a revealed share is not hex");
          FEDRA_ASSIGN_OR_RETURN(SecretShare share, SecretShare::Decode(bytes));
          (*into)[of].push_back(share);
        }
      }
    }
    const std::set<std::string> summed(result_.summed.begin(), result_.summed.end());
    for (const std::string& site : shared_) {
      if (summed.count(site)) {
        Result<Secret32> seed = CombineShares(seed_shares[site], session_.threshold);
        if (!seed.ok()) return seed.status().WithContext("secure sum: the self mask of site '" + site + "'");
        masks->push_back({*seed, true});
        continue;
      }
      // Dropped after sharing: its mask key comes back, and with it the masks it shared with
      // each site in the sum.
      Result<Secret32> key = CombineShares(key_shares[site], session_.threshold);
      if (!key.ok()) return key.status().WithContext("secure sum: the mask key of site '" + site + "'");
      FEDRA_ASSIGN_OR_RETURN(Secret32 public_key, X25519PublicKey(*key));
      if (public_key != keys.at(site).mask_key) {
        return DataLoss("secure sum: the shares of site '" + site + "''s mask key do not give the key it advertised");
      }
      for (const std::string& other : result_.summed) {
        FEDRA_ASSIGN_OR_RETURN(Secret32 seed, AgreeSecret(*key, keys.at(other).mask_key, kSecureSumMaskPurpose));
        // `other` added this mask if its name is the lower, subtracted it otherwise.
        masks->push_back({seed, other < site});
      }
    }
    return Status::Ok();
  }

  Federation& fed_;
  const std::map<std::string, VarId>& vars_;
  const SecureSumOptions& options_;
  SecureSumKeysParams session_;
  std::map<std::string, uint64_t> min_rows_;
  std::set<std::string> shared_;
  Eigen::Index rows_ = 0, cols_ = 0;
  SecureSumResult result_;
};

}  // namespace

int SecureSumThreshold(const SecureSumOptions& options, int sites) {
  if (options.threshold > 0) return options.threshold;
  return std::max(2, sites / 2 + 1);
}

Result<SecureSumResult> SecureSum(Federation& fed, const std::map<std::string, VarId>& vars,
                                  const SecureSumOptions& options) {
  if (options.word_bits != 32 && options.word_bits != 64)
    return InvalidArgument("secure sum: word_bits must be 32 or 64, not " + std::to_string(options.word_bits));
  if (options.fraction_bits < kMinFractionBits || options.fraction_bits > MaxFractionBits(options.word_bits)) {
    return InvalidArgument("secure sum: fraction_bits must be from " + std::to_string(kMinFractionBits) + " to " +
                           std::to_string(MaxFractionBits(options.word_bits)) + " with " +
                           std::to_string(options.word_bits) + "-bit words");
  }
  return SumRun(fed, vars, options).Run();
}

}  // namespace fedra

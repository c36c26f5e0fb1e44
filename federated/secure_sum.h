// fedra's secure sum (Bonawitz et al., CCS 2017, with a complete graph of pairs): the master
// learns the sum of one value from each site and nothing more of any one of them. Sites talk only
// to the master, which relays what it cannot read. Four phases, one kSecureSum request per site
// each (the request's name is the phase):
//
//   keys    each site makes two X25519 key pairs for the session (one seals shares, one agrees
//           pairwise masks) and signs their public keys, the session's sites and its threshold
//           with its certificate's key, so that a master cannot substitute keys or tell sites
//           different stories;
//   shares  each site checks every other site's certificate (issued by the federation CA, for
//           that site) and signature, then Shamir-shares a fresh self-mask seed and its mask key
//           among the sites that advertised keys and seals each share for its receiver;
//   mask    each site encodes its value in fixed point in Z_2^64 (or Z_2^32, when the master
//           asks for 32-bit words: half the bytes, a narrower range) and adds its self mask and one
//           pairwise mask per other site that shared (added by the lower name, subtracted by the
//           higher), so that the pairwise masks cancel in the sum;
//   consistency  each site that sent its masked value signs the list of sites whose masked
//           values arrived (the survivors), one list per session;
//   unmask  given the survivors and at least a threshold of the sites' signatures on that very
//           list, each site reveals, for every site that shared, the share of its self-mask seed
//           if that site survived, or of its mask key if it did not — never both for one site,
//           and only once per session. The signatures keep a master from telling sites different
//           survivors and so collecting one site's seed and its peers' mask keys (Bonawitz et
//           al.'s consistency check).
//
// The master adds the masked values, removes every self mask and, for a site that dropped after
// sharing, its pairwise masks with the others; a site that dropped before sharing is left out.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/matrix.h"
#include "common/status.h"
#include "federated/secure_sum_crypto.h"
#include "federated/shamir.h"

namespace fedra {

inline constexpr std::string_view kSecureSumKeys = "keys";
inline constexpr std::string_view kSecureSumShares = "shares";
inline constexpr std::string_view kSecureSumMask = "mask";
inline constexpr std::string_view kSecureSumConsistency = "consistency";
inline constexpr std::string_view kSecureSumUnmask = "unmask";
inline constexpr int kMaxSecureSumSites = 256;
// HKDF infos: the key that seals shares, and the pairwise mask seed, from one X25519 agreement each.
inline constexpr std::string_view kSecureSumSealPurpose = "fedra secure sum seal v1";
inline constexpr std::string_view kSecureSumMaskPurpose = "fedra secure sum mask v1";

// keys: the session (a number the master picks), its sites in order, and how many of them must
// take part to the end for the sum to come out: more than half of them, at least 2.
struct SecureSumKeysParams {
  uint64_t session = 0;
  std::vector<std::string> sites;
  int threshold = 2;

  nlohmann::json ToJson() const;
  static Result<SecureSumKeysParams> Parse(const nlohmann::json& params);
};

// A site's answer to keys, relayed to every site in the shares phase.
struct AdvertisedKeys {
  std::string site;
  Secret32 cipher_key{};    // X25519: seals the shares sent to this site
  Secret32 mask_key{};      // X25519: agrees the pairwise mask seeds
  Bytes signature;          // over SignedKeysText, by the site's certificate key
  std::string certificate;  // PEM, issued by the federation CA

  nlohmann::json ToJson() const;
  static Result<AdvertisedKeys> Parse(const nlohmann::json& j);
};

// What a site signs: the session, its name and keys, and the session's sites and threshold.
std::string SignedKeysText(const SecureSumKeysParams& session, const AdvertisedKeys& keys);

struct SecureSumSharesParams {
  uint64_t session = 0;
  std::vector<AdvertisedKeys> keys;

  nlohmann::json ToJson() const;
  static Result<SecureSumSharesParams> Parse(const nlohmann::json& params);
};

// DP-FedAvg's part at each site (McMahan et al. 2018): the value is clipped to L2 norm
// `clip_norm` and gets Gaussian noise of standard deviation noise_multiplier x clip_norm /
// sqrt(threshold), so that any sum the session lets out (over at least `threshold` sites) holds
// noise of at least noise_multiplier x clip_norm. Off when noise_multiplier is 0.
struct SecureSumDp {
  double clip_norm = 0;
  double noise_multiplier = 0;
  bool enabled() const { return noise_multiplier > 0; }
};

// mask: the sealed shares addressed to this site, by sender (the sites whose shares arrived), the
// fixed point's word size and fraction bits, and DP noise if asked.
struct SecureSumMaskParams {
  uint64_t session = 0;
  std::map<std::string, Bytes> shares;
  int fraction_bits = 32;
  SecureSumDp dp;
  int word_bits = 64;  // 64 or 32; absent from a message: 64

  nlohmann::json ToJson() const;
  static Result<SecureSumMaskParams> Parse(const nlohmann::json& params);
};

// consistency and unmask: the sites whose masked values arrived; for unmask, also the sites'
// signatures (by site) over SurvivorsText.
struct SecureSumUnmaskParams {
  uint64_t session = 0;
  std::vector<std::string> survivors;
  std::map<std::string, Bytes> signatures;

  nlohmann::json ToJson() const;
  static Result<SecureSumUnmaskParams> Parse(const nlohmann::json& params);
};

// What a site signs in the consistency phase: the master, the session and its survivors.
std::string SurvivorsText(std::string_view master, uint64_t session, const std::vector<std::string>& survivors);

// The context a share from `from` to `to` is sealed under.
std::string ShareContext(uint64_t session, std::string_view from, std::string_view to);

// A share's plain text: the share of the sender's self-mask seed, then of its mask key.
struct SharePair {
  SecretShare seed;
  SecretShare key;
  Bytes Encode() const;
  static Result<SharePair> Decode(std::span<const uint8_t> bytes);
};

// Fixed point in Z_2^64 or Z_2^32: x is round(x * 2^fraction_bits) as a two's-complement word. A
// sum of `summands` values fits when every |x| stays under SecureSumLimit; the sum is then exact
// to summands * 2^-(fraction_bits + 1), whatever the word size.
inline constexpr int kMinFractionBits = 0, kMaxFractionBits = 52;
// The most fraction bits a word holds; kMaxFractionBits for 64-bit words.
int MaxFractionBits(int word_bits);
double SecureSumLimit(int fraction_bits, int summands, int word_bits = 64);
double SecureSumResolution(int fraction_bits, int summands);
// kFailedPrecondition, saying the limit, when a value is not finite or too large.
Status EncodeFixedPoint(const Matrix& x, int fraction_bits, int summands, std::vector<uint64_t>* words);
Status EncodeFixedPoint(const Matrix& x, int fraction_bits, int summands, std::vector<uint32_t>* words);
// What a site sends: `x` in fixed point as `word_bits`-bit words (64 or 32) with every mask
// applied, encoded and masked a block at a time while the block is in cache.
Result<Bytes> MaskedFixedPoint(const Matrix& x, int fraction_bits, int summands, int word_bits,
                               std::span<const Mask> masks);
Matrix DecodeFixedPoint(std::span<const uint64_t> words, Eigen::Index rows, Eigen::Index cols, int fraction_bits);
Matrix DecodeFixedPoint(std::span<const uint32_t> words, Eigen::Index rows, Eigen::Index cols, int fraction_bits);

}  // namespace fedra

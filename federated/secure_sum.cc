#include "federated/secure_sum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <type_traits>

#include "common/digest.h"
#include "common/parallel.h"

namespace fedra {
namespace {

constexpr size_t kMaxCertificateBytes = 16 << 10;

Status BadParam(std::string_view phase, std::string_view field, std::string_view why) {
  return InvalidArgument("secure sum " + std::string(phase) + ": params." + std::string(field) + " " +
                         std::string(why));
}

Result<uint64_t> SessionOf(const nlohmann::json& params, std::string_view phase) {
  const auto it = params.find("session");
  if (it == params.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0)
    return BadParam(phase, "session", "must be a positive integer");
  return it->get<uint64_t>();
}

Result<std::vector<std::string>> SiteNames(const nlohmann::json& params, std::string_view field,
                                           std::string_view phase) {
  const auto it = params.find(field);
  if (it == params.end() || !it->is_array() || it->size() > static_cast<size_t>(kMaxSecureSumSites))
    return BadParam(phase, field, "must list at most " + std::to_string(kMaxSecureSumSites) + " sites");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const nlohmann::json& name : *it) {
    if (!name.is_string() || name.get<std::string>().empty() || name.get<std::string>().size() > 256)
      return BadParam(phase, field, "must hold site names");
    if (!seen.insert(name.get<std::string>()).second) return BadParam(phase, field, "names a site twice");
    names.push_back(name.get<std::string>());
  }
  return names;
}

Result<Bytes> HexField(const nlohmann::json& j, std::string_view field, size_t max_bytes, std::string_view phase) {
  const auto it = j.find(field);
  Bytes bytes;
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().size() > 2 * max_bytes ||
      !FromHex(it->get<std::string>(), &bytes)) {
    return BadParam(phase, field, "must be hex");
  }
  return bytes;
}

// Site -> bytes as site -> hex, the form shares and signatures travel in; and back, for at most
// kMaxSecureSumSites sites of at most 1 KiB each.
nlohmann::json HexMap(const std::map<std::string, Bytes>& by_site) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [site, bytes] : by_site) out[site] = LowerHex(bytes);
  return out;
}

Result<std::map<std::string, Bytes>> ParseHexMap(const nlohmann::json& node, std::string_view phase,
                                                 std::string_view field, const std::string& what) {
  if (!node.is_object() || node.size() > static_cast<size_t>(kMaxSecureSumSites))
    return BadParam(phase, field, "must map sites to " + what);
  std::map<std::string, Bytes> out;
  for (const auto& [site, hex] : node.items()) {
    Bytes bytes;
    if (!hex.is_string() || hex.get_ref<const std::string&>().size() > 2048 || !FromHex(hex.get<std::string>(), &bytes))
      return BadParam(phase, field, "must map sites to " + what + " in hex");
    out[site] = std::move(bytes);
  }
  return out;
}

Result<Secret32> KeyField(const nlohmann::json& j, std::string_view field) {
  FEDRA_ASSIGN_OR_RETURN(Bytes bytes, HexField(j, field, 32, kSecureSumShares));
  if (bytes.size() != 32) return BadParam(kSecureSumShares, field, "must be a 32-byte key");
  Secret32 key{};
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

}  // namespace

nlohmann::json SecureSumKeysParams::ToJson() const {
  return {{"session", session}, {"sites", sites}, {"threshold", threshold}};
}

Result<SecureSumKeysParams> SecureSumKeysParams::Parse(const nlohmann::json& params) {
  SecureSumKeysParams p;
  FEDRA_ASSIGN_OR_RETURN(p.session, SessionOf(params, kSecureSumKeys));
  FEDRA_ASSIGN_OR_RETURN(p.sites, SiteNames(params, "sites", kSecureSumKeys));
  const auto t = params.find("threshold");
  if (t == params.end() || !t->is_number_integer()) return BadParam(kSecureSumKeys, "threshold", "must be an integer");
  p.threshold = t->get<int>();
  // A threshold of one would let one site's value out on its own; one of half the sites or
  // fewer would let a master that tells sites different survivors collect both the seed and
  // the mask key of a site, each from its own threshold of sites.
  const int n = static_cast<int>(p.sites.size());
  if (p.threshold < 2 || 2 * p.threshold <= n || p.threshold > n)
    return BadParam(kSecureSumKeys, "threshold", "must be more than half the sites, at least 2, at most all of them");
  return p;
}

nlohmann::json AdvertisedKeys::ToJson() const {
  return {{"site", site},
          {"cipher_key", LowerHex(cipher_key)},
          {"mask_key", LowerHex(mask_key)},
          {"signature", LowerHex(signature)},
          {"certificate", certificate}};
}

Result<AdvertisedKeys> AdvertisedKeys::Parse(const nlohmann::json& j) {
  if (!j.is_object()) return BadParam(kSecureSumShares, "keys", "must hold objects");
  AdvertisedKeys k;
  if (!j.contains("site") || !j["site"].is_string()) return BadParam(kSecureSumShares, "keys[].site", "must be a name");
  k.site = j["site"].get<std::string>();
  FEDRA_ASSIGN_OR_RETURN(k.cipher_key, KeyField(j, "cipher_key"));
  FEDRA_ASSIGN_OR_RETURN(k.mask_key, KeyField(j, "mask_key"));
  FEDRA_ASSIGN_OR_RETURN(k.signature, HexField(j, "signature", 1024, kSecureSumShares));
  if (!j.contains("certificate") || !j["certificate"].is_string() ||
      j["certificate"].get_ref<const std::string&>().size() > kMaxCertificateBytes)
    return BadParam(kSecureSumShares, "keys[].certificate", "must be a PEM certificate");
  k.certificate = j["certificate"].get<std::string>();
  return k;
}

std::string SignedKeysText(const SecureSumKeysParams& session, const AdvertisedKeys& keys) {
  std::string text = "fedra secure sum keys v1\nsession " + std::to_string(session.session) + "\nthreshold " +
                     std::to_string(session.threshold) + "\nsites";
  for (const std::string& s : session.sites)
    text += " " + LowerHex(std::span(reinterpret_cast<const unsigned char*>(s.data()), s.size()));
  text += "\nsite " + keys.site + "\ncipher " + LowerHex(keys.cipher_key) + "\nmask " + LowerHex(keys.mask_key) + "\n";
  return text;
}

nlohmann::json SecureSumSharesParams::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const AdvertisedKeys& k : keys) list.push_back(k.ToJson());
  return {{"session", session}, {"keys", std::move(list)}};
}

Result<SecureSumSharesParams> SecureSumSharesParams::Parse(const nlohmann::json& params) {
  SecureSumSharesParams p;
  FEDRA_ASSIGN_OR_RETURN(p.session, SessionOf(params, kSecureSumShares));
  const auto it = params.find("keys");
  if (it == params.end() || !it->is_array() || it->size() > static_cast<size_t>(kMaxSecureSumSites))
    return BadParam(kSecureSumShares, "keys", "must list the sites' keys");
  for (const nlohmann::json& k : *it) {
    FEDRA_ASSIGN_OR_RETURN(AdvertisedKeys keys, AdvertisedKeys::Parse(k));
    p.keys.push_back(std::move(keys));
  }
  return p;
}

nlohmann::json SecureSumMaskParams::ToJson() const {
  nlohmann::json out = {{"session", session}, {"shares", HexMap(shares)}, {"fraction_bits", fraction_bits}};
  if (word_bits != 64) out["word_bits"] = word_bits;
  if (dp.enabled()) out["dp"] = {{"clip_norm", dp.clip_norm}, {"noise_multiplier", dp.noise_multiplier}};
  return out;
}

Result<SecureSumMaskParams> SecureSumMaskParams::Parse(const nlohmann::json& params) {
  SecureSumMaskParams p;
  FEDRA_ASSIGN_OR_RETURN(p.session, SessionOf(params, kSecureSumMask));
  const auto it = params.find("shares");
  if (it == params.end()) return BadParam(kSecureSumMask, "shares", "must map sites to sealed shares");
  FEDRA_ASSIGN_OR_RETURN(p.shares, ParseHexMap(*it, kSecureSumMask, "shares", "sealed shares"));
  if (const auto words = params.find("word_bits"); words != params.end()) {
    if (!words->is_number_integer() || (words->get<int>() != 32 && words->get<int>() != 64))
      return BadParam(kSecureSumMask, "word_bits", "must be 32 or 64");
    p.word_bits = words->get<int>();
  }
  const int most = MaxFractionBits(p.word_bits);
  const auto bits = params.find("fraction_bits");
  if (bits == params.end() || !bits->is_number_integer() || bits->get<int>() < kMinFractionBits ||
      bits->get<int>() > most)
    return BadParam(kSecureSumMask, "fraction_bits",
                    "must be an integer from " + std::to_string(kMinFractionBits) + " to " + std::to_string(most) +
                        " with " + std::to_string(p.word_bits) + "-bit words");
  p.fraction_bits = bits->get<int>();
  if (const auto dp = params.find("dp"); dp != params.end()) {
    const auto clip = dp->find("clip_norm"), z = dp->find("noise_multiplier");
    if (!dp->is_object() || clip == dp->end() || z == dp->end() || !clip->is_number() || !z->is_number() ||
        !(clip->get<double>() > 0 && clip->get<double>() <= 1e6) || !(z->get<double>() > 0 && z->get<double>() <= 1e6))
      return BadParam(kSecureSumMask, "dp", "must hold a positive clip_norm and noise_multiplier");
    p.dp = {clip->get<double>(), z->get<double>()};
  }
  return p;
}

nlohmann::json SecureSumUnmaskParams::ToJson() const {
  nlohmann::json out = {{"session", session}, {"survivors", survivors}};
  if (!signatures.empty()) out["signatures"] = HexMap(signatures);
  return out;
}

Result<SecureSumUnmaskParams> SecureSumUnmaskParams::Parse(const nlohmann::json& params) {
  SecureSumUnmaskParams p;
  FEDRA_ASSIGN_OR_RETURN(p.session, SessionOf(params, kSecureSumUnmask));
  FEDRA_ASSIGN_OR_RETURN(p.survivors, SiteNames(params, "survivors", kSecureSumUnmask));
  if (const auto it = params.find("signatures"); it != params.end()) {
    FEDRA_ASSIGN_OR_RETURN(p.signatures, ParseHexMap(*it, kSecureSumUnmask, "signatures", "signatures"));
  }
  return p;
}

std::string SurvivorsText(std::string_view master, uint64_t session, const std::vector<std::string>& survivors) {
  std::vector<std::string> sorted = survivors;
  std::sort(sorted.begin(), sorted.end());
  std::string text = "fedra secure sum survivors v1\nmaster " +
                     LowerHex(std::span(reinterpret_cast<const unsigned char*>(master.data()), master.size())) +
                     "\nsession " + std::to_string(session) + "\nsurvivors";
  for (const std::string& s : sorted) {
    text += " " + LowerHex(std::span(reinterpret_cast<const unsigned char*>(s.data()), s.size()));
  }
  return text + "\n";
}

std::string ShareContext(uint64_t session, std::string_view from, std::string_view to) {
  return "fedra secure sum share v1\n" + std::to_string(session) + "\n" + std::string(from) + "\n" + std::string(to);
}

Bytes SharePair::Encode() const {
  Bytes out = seed.Encode();
  const Bytes k = key.Encode();
  out.insert(out.end(), k.begin(), k.end());
  return out;
}

Result<SharePair> SharePair::Decode(std::span<const uint8_t> bytes) {
  if (bytes.size() != 2 * SecretShare::kEncodedBytes) return DataLoss("a share pair has the wrong size");
  SharePair p;
  FEDRA_ASSIGN_OR_RETURN(p.seed, SecretShare::Decode(bytes.first(SecretShare::kEncodedBytes)));
  FEDRA_ASSIGN_OR_RETURN(p.key, SecretShare::Decode(bytes.subspan(SecretShare::kEncodedBytes)));
  return p;
}

int MaxFractionBits(int word_bits) { return word_bits == 32 ? 30 : kMaxFractionBits; }

double SecureSumLimit(int fraction_bits, int summands, int word_bits) {
  // A margin of one bit below 2^(word_bits - 1) keeps the rounded sum clear of the sign.
  return std::ldexp(1.0, word_bits - 2 - fraction_bits) / std::max(summands, 1);
}

double SecureSumResolution(int fraction_bits, int summands) {
  return std::max(summands, 1) * std::ldexp(1.0, -(fraction_bits + 1));
}

namespace {

// The fixed point's words for values v[0, n) (round half away from zero), and false if any value
// is not finite or not under `limit` in magnitude. The check is vectorised by Eigen; the rounding
// takes two values at a time with GCC's vector extension (GCC 12 at -O2 leaves such a loop
// scalar), and so does the conversion to 32-bit words (SSE2 has none to 64-bit ones). Within the
// limit, a scaled value fits a signed word with room to spare.
template <typename Word>
bool EncodeWords(const double* v, size_t n, double scale, double limit, Word* out) {
  using Signed = std::make_signed_t<Word>;
  if (n > 0 &&
      !(Eigen::Map<const Eigen::ArrayXd>(v, static_cast<Eigen::Index>(n)).abs().maxCoeff<Eigen::PropagateNaN>() <
        limit)) {
    return false;
  }
  typedef double Values __attribute__((vector_size(16)));
  typedef int64_t Bits __attribute__((vector_size(16)));
  const Values scales = {scale, scale}, halves = {0.5, 0.5};
  const Bits sign = {INT64_MIN, INT64_MIN};
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    Values x;
    std::memcpy(&x, v + i, sizeof x);
    const Values scaled = x * scales;
    const Values rounded = scaled + (Values)(((Bits)scaled & sign) | (Bits)halves);  // +-0.5, the sign of x
    out[i] = static_cast<Word>(static_cast<Signed>(rounded[0]));
    out[i + 1] = static_cast<Word>(static_cast<Signed>(rounded[1]));
  }
  for (; i < n; ++i) {
    const double scaled = v[i] * scale;
    out[i] = static_cast<Word>(static_cast<Signed>(scaled + std::copysign(0.5, scaled)));
  }
  return true;
}

// Why values v[0, n) do not encode (EncodeWords said so).
Status OutOfRange(const double* v, size_t n, int fraction_bits, int summands, int word_bits) {
  const double limit = SecureSumLimit(fraction_bits, summands, word_bits);
  const double* bad = std::find_if(v, v + n, [&](double x) { return !(std::abs(x) < limit); });
  const bool finite = bad == v + n || std::isfinite(*bad);
  return FailedPrecondition("a value to be summed securely is " + std::string(finite ? "beyond" : "not within") +
                            " the fixed point's range of +-" + std::to_string(limit) + " (" +
                            std::to_string(word_bits) + "-bit words, " + std::to_string(fraction_bits) +
                            " fraction bits, " + std::to_string(summands) + " sites): ask for fewer fraction bits" +
                            (word_bits == 32 ? " or 64-bit words" : ""));
}

template <typename Word>
Status EncodeFixedPointAs(const Matrix& x, int fraction_bits, int summands, std::vector<Word>* words) {
  constexpr int kWordBits = 8 * sizeof(Word);
  words->resize(static_cast<size_t>(x.size()));
  if (!EncodeWords(x.data(), words->size(), std::ldexp(1.0, fraction_bits),
                   SecureSumLimit(fraction_bits, summands, kWordBits), words->data())) {
    return OutOfRange(x.data(), words->size(), fraction_bits, summands, kWordBits);
  }
  return Status::Ok();
}

template <typename Word>
Result<Bytes> MaskedFixedPointAs(const Matrix& x, int fraction_bits, int summands, std::span<const Mask> masks) {
  constexpr int kWordBits = 8 * sizeof(Word);
  const double scale = std::ldexp(1.0, fraction_bits), limit = SecureSumLimit(fraction_bits, summands, kWordBits);
  Bytes packed(static_cast<size_t>(x.size()) * sizeof(Word));
  // Parts of a long vector on several cores; in each, a block small enough to stay in cache from
  // its encoding to its copy into `packed`.
  FEDRA_RETURN_IF_ERROR(
      ForRanges(static_cast<size_t>(x.size()), kMaskWordsPerThread, [&](size_t first, size_t end) -> Status {
        FEDRA_ASSIGN_OR_RETURN(MaskStreams streams, MaskStreams::Start(masks, first * sizeof(Word)));
        constexpr size_t kBlockWords = 4096;
        std::vector<Word> block(kBlockWords);
        for (size_t begin = first; begin < end; begin += kBlockWords) {
          const size_t count = std::min(kBlockWords, end - begin);
          if (!EncodeWords(x.data() + begin, count, scale, limit, block.data()))
            return OutOfRange(x.data() + begin, count, fraction_bits, summands, kWordBits);
          FEDRA_RETURN_IF_ERROR(streams.Apply(std::span<Word>(block.data(), count)));
          std::memcpy(packed.data() + begin * sizeof(Word), block.data(), count * sizeof(Word));
        }
        return Status::Ok();
      }));
  return packed;
}

template <typename Word>
Matrix DecodeFixedPointAs(std::span<const Word> words, Eigen::Index rows, Eigen::Index cols, int fraction_bits) {
  using Signed = std::make_signed_t<Word>;
  Matrix m(rows, cols);
  const double scale = std::ldexp(1.0, -fraction_bits);
  const size_t n = std::min(words.size(), static_cast<size_t>(m.size()));
  double* out = m.data();
  size_t i = 0;
  // 16 bytes of words at a time with GCC's vector extension: cvtdq2pd for 32-bit words (64-bit
  // ones convert one at a time: SSE2 has no instruction for them).
  constexpr size_t kLanes = 16 / sizeof(Signed);
  typedef Signed Words __attribute__((vector_size(16)));
  typedef double Values __attribute__((vector_size(8 * kLanes)));
  const Values scales = Values{} + scale;
  for (; i + kLanes <= n; i += kLanes) {
    Words w;
    std::memcpy(&w, words.data() + i, sizeof w);
    const Values v = __builtin_convertvector(w, Values) * scales;
    std::memcpy(out + i, &v, sizeof v);
  }
  for (; i < n; ++i) out[i] = static_cast<double>(static_cast<Signed>(words[i])) * scale;
  return m;
}

}  // namespace

Status EncodeFixedPoint(const Matrix& x, int fraction_bits, int summands, std::vector<uint64_t>* words) {
  return EncodeFixedPointAs(x, fraction_bits, summands, words);
}
Status EncodeFixedPoint(const Matrix& x, int fraction_bits, int summands, std::vector<uint32_t>* words) {
  return EncodeFixedPointAs(x, fraction_bits, summands, words);
}
Result<Bytes> MaskedFixedPoint(const Matrix& x, int fraction_bits, int summands, int word_bits,
                               std::span<const Mask> masks) {
  return word_bits == 32 ? MaskedFixedPointAs<uint32_t>(x, fraction_bits, summands, masks)
                         : MaskedFixedPointAs<uint64_t>(x, fraction_bits, summands, masks);
}
Matrix DecodeFixedPoint(std::span<const uint64_t> words, Eigen::Index rows, Eigen::Index cols, int fraction_bits) {
  return DecodeFixedPointAs(words, rows, cols, fraction_bits);
}
Matrix DecodeFixedPoint(std::span<const uint32_t> words, Eigen::Index rows, Eigen::Index cols, int fraction_bits) {
  return DecodeFixedPointAs(words, rows, cols, fraction_bits);
}

}  // namespace fedra

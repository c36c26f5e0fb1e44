// The secure sum's building blocks: Shamir's sharing recovers a secret from any threshold of
// shares, masks cancel, agreement is symmetric, sealed shares open only where they were meant
// to, and the fixed point keeps its stated precision and range.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "federated/secure_sum.h"
#include "federated/secure_sum_crypto.h"
#include "federated/shamir.h"

namespace fedra {
namespace {

Secret32 Filled(uint8_t start) {
  Secret32 s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(start + 7 * i);
  return s;
}

TEST_CASE("Shamir's shares give the secret back from any threshold of them, and only from the right ones") {
  const Secret32 secret = Filled(200);  // bytes up to 255: every chunk's top byte is used
  Result<std::vector<SecretShare>> shares = SplitSecret(secret, 5, 3);
  REQUIRE(shares.ok());
  for (const auto& pick : std::vector<std::vector<int>>{{0, 1, 2}, {4, 2, 0}, {1, 3, 4}, {3, 4, 0, 1}}) {
    std::vector<SecretShare> some;
    for (int i : pick) some.push_back((*shares)[static_cast<size_t>(i)]);
    Result<Secret32> back = CombineShares(some, 3);
    REQUIRE(back.ok());
    CHECK(*back == secret);
  }
  // Two shares of a threshold-3 secret: refused, as is a share changed on the way.
  CHECK_FALSE(CombineShares(std::span(*shares).first(2), 3).ok());
  std::vector<SecretShare> altered(shares->begin(), shares->begin() + 3);
  altered[1].y[0] = (altered[1].y[0] + 1) % ((uint64_t{1} << 61) - 1);
  Result<Secret32> wrong = CombineShares(altered, 3);
  CHECK((!wrong.ok() || *wrong != secret));
  // Shares survive their encoding; a share at point 0 or with a value outside the field does not.
  Result<SecretShare> decoded = SecretShare::Decode((*shares)[2].Encode());
  REQUIRE(decoded.ok());
  CHECK(decoded->x == 3);
  CHECK(decoded->y == (*shares)[2].y);
  Bytes bad = (*shares)[2].Encode();
  std::fill(bad.begin() + 4, bad.end(), 0xff);
  CHECK(SecretShare::Decode(bad).status().code() == StatusCode::kDataLoss);
  CHECK_FALSE(SplitSecret(secret, 3, 4).ok());
}

TEST_CASE("a mask added and then subtracted leaves the words as they were, and looks nothing like them") {
  std::vector<uint64_t> words(10007);
  for (size_t i = 0; i < words.size(); ++i) words[i] = i;
  const std::vector<uint64_t> plain = words;
  REQUIRE(ApplyMask(Filled(1), words, false).ok());
  size_t same = 0;
  for (size_t i = 0; i < words.size(); ++i) same += words[i] == plain[i];
  CHECK(same < 3);
  // Every bit of the masked words is about half ones: 10007 words x 64 bits, 4 sigma is 1.3%.
  double ones = 0;
  for (uint64_t w : words) ones += std::popcount(w);
  CHECK(std::abs(ones / (64.0 * words.size()) - 0.5) < 0.01);
  REQUIRE(ApplyMask(Filled(1), words, true).ok());
  CHECK(words == plain);
  // Masks applied together are the masks applied one after another.
  const std::vector<Mask> masks = {{Filled(1), false}, {Filled(2), true}, {Filled(3), false}};
  std::vector<uint64_t> one_by_one = plain;
  for (const Mask& m : masks) REQUIRE(ApplyMask(m.seed, one_by_one, m.subtract).ok());
  REQUIRE(ApplyMasks(masks, words).ok());
  CHECK(words == one_by_one);
  // 32-bit words take the same stream, four bytes at a time: a mask added by one site and
  // subtracted by another cancels in Z_2^32 too.
  std::vector<uint32_t> narrow(10007), narrow_plain(10007);
  for (size_t i = 0; i < narrow.size(); ++i) narrow[i] = narrow_plain[i] = static_cast<uint32_t>(3 * i);
  REQUIRE(ApplyMask(Filled(4), narrow, false).ok());
  size_t narrow_same = 0;
  for (size_t i = 0; i < narrow.size(); ++i) narrow_same += narrow[i] == narrow_plain[i];
  CHECK(narrow_same < 3);
  REQUIRE(ApplyMask(Filled(4), narrow, true).ok());
  CHECK(narrow == narrow_plain);
  std::vector<uint32_t> narrow_one_by_one = narrow_plain;
  for (const Mask& m : masks) REQUIRE(ApplyMask(m.seed, narrow_one_by_one, m.subtract).ok());
  REQUIRE(ApplyMasks(masks, narrow).ok());
  CHECK(narrow == narrow_one_by_one);
  // The 32-bit words are the 64-bit stream's bytes: word 0 of a mask over zeros is the low half
  // of the 64-bit word 0 on this little-endian machine.
  std::vector<uint64_t> wide_zero(1, 0);
  std::vector<uint32_t> narrow_zero(2, 0);
  REQUIRE(ApplyMask(Filled(5), wide_zero, false).ok());
  REQUIRE(ApplyMask(Filled(5), narrow_zero, false).ok());
  CHECK(narrow_zero[0] == static_cast<uint32_t>(wide_zero[0]));
  CHECK(narrow_zero[1] == static_cast<uint32_t>(wide_zero[0] >> 32));
}

TEST_CASE("mask streams applied in pieces are the masks applied at once") {
  const std::vector<Mask> masks = {{Filled(1), false}, {Filled(2), true}, {Filled(3), false}};
  std::vector<uint32_t> whole(20011), pieces(20011);
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = pieces[i] = static_cast<uint32_t>(7 * i);
  REQUIRE(ApplyMasks(masks, std::span<uint32_t>(whole)).ok());
  Result<MaskStreams> streams = MaskStreams::Start(masks);
  REQUIRE(streams.ok());
  // Pieces that end inside a 16-byte AES block and inside a key-stream block.
  const std::span<uint32_t> all(pieces);
  REQUIRE(streams->Apply(all.subspan(0, 1001)).ok());
  REQUIRE(streams->Apply(all.subspan(1001, 8191)).ok());
  REQUIRE(streams->Apply(all.subspan(9192)).ok());
  CHECK(pieces == whole);
  // Adding words and subtracting them again, in each word size, tails included.
  std::vector<uint64_t> wide(1003, ~uint64_t{0}), other(1003);
  for (size_t i = 0; i < other.size(); ++i) other[i] = 3 * i + 1;
  AddWords(std::span<uint64_t>(wide), other);
  CHECK(wide[1002] == other[1002] - 1);  // wrapped in Z_2^64
  AddWords(std::span<uint64_t>(wide), other, true);
  CHECK(wide == std::vector<uint64_t>(1003, ~uint64_t{0}));
}

TEST_CASE("mask streams seek: a stream started at a byte is the whole stream's tail from it") {
  // A counter block whose low 64 bits wrap within the stream: the carry goes on into the high half,
  // as OpenSSL's own count does.
  Secret32 seed = Filled(9);
  for (size_t i = 24; i < 31; ++i) seed[i] = 0xff;
  seed[31] = 0xf0;
  const std::vector<Mask> masks = {{seed, false}, {Filled(10), true}};
  std::vector<uint32_t> whole(5003, 0);
  Result<MaskStreams> from_start = MaskStreams::Start(masks);
  REQUIRE(from_start.ok());
  REQUIRE(from_start->Apply(std::span<uint32_t>(whole)).ok());
  for (const size_t first_word : {size_t{4}, size_t{61}, size_t{1000}, size_t{4099}}) {
    CAPTURE(first_word);  // 61 words: 244 bytes, inside an AES block
    std::vector<uint32_t> tail(whole.size() - first_word, 0);
    Result<MaskStreams> seeked = MaskStreams::Start(masks, first_word * sizeof(uint32_t));
    REQUIRE(seeked.ok());
    REQUIRE(seeked->Apply(std::span<uint32_t>(tail)).ok());
    CHECK(std::equal(tail.begin(), tail.end(), whole.begin() + static_cast<std::ptrdiff_t>(first_word)));
  }
  // A vector long enough to be masked in parts on several cores is masked as by one stream.
  std::vector<uint64_t> long_words(3 * kMaskWordsPerThread + 5), one_stream;
  for (size_t i = 0; i < long_words.size(); ++i) long_words[i] = i * 0x9e3779b97f4a7c15ULL;
  one_stream = long_words;
  REQUIRE(ApplyMasks(masks, std::span<uint64_t>(long_words)).ok());
  Result<MaskStreams> single = MaskStreams::Start(masks);
  REQUIRE(single.ok());
  REQUIRE(single->Apply(std::span<uint64_t>(one_stream)).ok());
  CHECK(long_words == one_stream);
}

TEST_CASE("a masked fixed point is its words with the masks applied, and refuses a bad value anywhere") {
  const std::vector<Mask> masks = {{Filled(4), false}, {Filled(5), true}};
  // Several of MaskedFixedPoint's blocks of 4096 words, on more than one core, and a tail.
  Matrix x(kMaskWordsPerThread + 3 * 4096 + 7, 2);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 2);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  const int bits = 20, sites = 3;
  x(0, 0) = std::ldexp(2.5, -bits);  // halfway between two steps: rounds away from zero
  x(1, 0) = std::ldexp(-2.5, -bits);
  std::vector<uint32_t> narrow;
  REQUIRE(EncodeFixedPoint(x, bits, sites, &narrow).ok());
  CHECK(narrow[0] == 3);
  CHECK(narrow[1] == static_cast<uint32_t>(-3));
  // Decoded four words at a time and then the last two alone, each back to within half a step.
  const Matrix decoded = DecodeFixedPoint(std::span<const uint32_t>(narrow), x.rows(), x.cols(), bits);
  CHECK((decoded - x).cwiseAbs().maxCoeff() <= std::ldexp(1.0, -bits - 1));
  CHECK(decoded(0, 0) == std::ldexp(3.0, -bits));
  REQUIRE(ApplyMasks(masks, std::span<uint32_t>(narrow)).ok());
  Result<Bytes> packed = MaskedFixedPoint(x, bits, sites, 32, masks);
  REQUIRE(packed.ok());
  REQUIRE(packed->size() == narrow.size() * 4);
  CHECK(std::memcmp(packed->data(), narrow.data(), packed->size()) == 0);
  std::vector<uint64_t> wide;
  REQUIRE(EncodeFixedPoint(x, bits, sites, &wide).ok());
  REQUIRE(ApplyMasks(masks, std::span<uint64_t>(wide)).ok());
  packed = MaskedFixedPoint(x, bits, sites, 64, masks);
  REQUIRE(packed.ok());
  REQUIRE(packed->size() == wide.size() * 8);
  CHECK(std::memcmp(packed->data(), wide.data(), packed->size()) == 0);
  // A value out of range or not finite, in a later block, in either word size.
  for (const int word_bits : {32, 64}) {
    CAPTURE(word_bits);
    Matrix big = x;
    big(9000, 1) = SecureSumLimit(bits, sites, word_bits) * 1.001;
    big(x.rows() - 1, 1) = std::nan("");  // in a later core's part: the first bad value is reported
    const Status beyond = MaskedFixedPoint(big, bits, sites, word_bits, masks).status();
    CHECK(beyond.code() == StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(beyond.message().find("is beyond the fixed point's range") != std::string::npos, beyond.message());
    Matrix nan = x;
    nan(5000, 0) = std::nan("");
    const Status not_finite = MaskedFixedPoint(nan, bits, sites, word_bits, masks).status();
    CHECK(not_finite.code() == StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(not_finite.message().find("is not within") != std::string::npos, not_finite.message());
    std::vector<uint32_t> words;
    CHECK(EncodeFixedPoint(nan, bits, sites, &words).code() == StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("both ends of an X25519 agreement get the same secret, one per purpose") {
  Result<X25519Keys> a = NewX25519Keys(), b = NewX25519Keys();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  Result<Secret32> ab = AgreeSecret(a->private_key, b->public_key, kSecureSumMaskPurpose);
  Result<Secret32> ba = AgreeSecret(b->private_key, a->public_key, kSecureSumMaskPurpose);
  Result<Secret32> seal = AgreeSecret(a->private_key, b->public_key, kSecureSumSealPurpose);
  REQUIRE(ab.ok());
  REQUIRE(ba.ok());
  REQUIRE(seal.ok());
  CHECK(*ab == *ba);
  CHECK(*ab != *seal);
  Result<Secret32> pub = X25519PublicKey(a->private_key);
  REQUIRE(pub.ok());
  CHECK(*pub == a->public_key);
  // A low-order point (all zeros) is no key to agree with.
  CHECK_FALSE(AgreeSecret(a->private_key, Secret32{}, kSecureSumMaskPurpose).ok());
}

TEST_CASE("a sealed share opens only under its key and its context") {
  const Bytes plain = {1, 2, 3, 4, 5};
  Result<Bytes> box = Seal(Filled(9), plain, ShareContext(7, "a", "b"));
  REQUIRE(box.ok());
  Result<Bytes> opened = Unseal(Filled(9), *box, ShareContext(7, "a", "b"));
  REQUIRE(opened.ok());
  CHECK(*opened == plain);
  CHECK(Unseal(Filled(9), *box, ShareContext(7, "a", "c")).status().code() == StatusCode::kPermissionDenied);
  CHECK(Unseal(Filled(10), *box, ShareContext(7, "a", "b")).status().code() == StatusCode::kPermissionDenied);
  Bytes altered = *box;
  altered[14] ^= 1;
  CHECK(Unseal(Filled(9), altered, ShareContext(7, "a", "b")).status().code() == StatusCode::kPermissionDenied);
}

TEST_CASE("the fixed point sums to within its stated resolution and refuses what it cannot hold") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1000);
  const int sites = 4, bits = 32;
  Matrix total = Matrix::Zero(30, 3);
  std::vector<uint64_t> sum(90, 0);
  for (int s = 0; s < sites; ++s) {
    Matrix x(30, 3);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    total += x;
    std::vector<uint64_t> words;
    REQUIRE(EncodeFixedPoint(x, bits, sites, &words).ok());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += words[i];
  }
  const Matrix back = DecodeFixedPoint(sum, 30, 3, bits);
  CHECK((back - total).cwiseAbs().maxCoeff() <= SecureSumResolution(bits, sites));
  CHECK(SecureSumResolution(bits, sites) == doctest::Approx(4 * std::ldexp(1.0, -33)));
  std::vector<uint64_t> words;
  Matrix big = Matrix::Constant(1, 1, SecureSumLimit(bits, sites) * 1.01);
  CHECK(EncodeFixedPoint(big, bits, sites, &words).code() == StatusCode::kFailedPrecondition);
  Matrix nan = Matrix::Constant(1, 1, std::nan(""));
  CHECK_FALSE(EncodeFixedPoint(nan, bits, sites, &words).ok());
}

TEST_CASE("32-bit words sum to the same resolution over a range 2^32 times narrower") {
  std::mt19937_64 rng(6);
  std::normal_distribution<double> normal(0, 3);
  const int sites = 3, bits = 24;
  // 2^(30 - 24) / 3 sites: values up to 21.3 each.
  CHECK(SecureSumLimit(bits, sites, 32) == std::ldexp(1.0, 6) / 3);
  CHECK(SecureSumLimit(bits, sites, 32) * std::ldexp(1.0, 32) == SecureSumLimit(bits, sites, 64));
  Matrix total = Matrix::Zero(50, 2);
  std::vector<uint32_t> sum(100, 0);
  for (int s = 0; s < sites; ++s) {
    Matrix x(50, 2);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    x(0, 0) = s == 0 ? -21.3 : 21.3;  // near the limit, of either sign
    total += x;
    std::vector<uint32_t> words;
    REQUIRE(EncodeFixedPoint(x, bits, sites, &words).ok());
    REQUIRE(words.size() == 100);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += words[i];
  }
  const Matrix back = DecodeFixedPoint(std::span<const uint32_t>(sum), 50, 2, bits);
  CHECK((back - total).cwiseAbs().maxCoeff() <= SecureSumResolution(bits, sites));
  std::vector<uint32_t> words;
  const Status beyond = EncodeFixedPoint(Matrix::Constant(1, 1, -21.34), bits, sites, &words);
  CHECK(beyond.code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(beyond.message().find("32-bit words") != std::string::npos, beyond.message());
  CHECK_MESSAGE(beyond.message().find("or 64-bit words") != std::string::npos, beyond.message());
  CHECK(MaxFractionBits(32) == 30);
  CHECK(MaxFractionBits(64) == kMaxFractionBits);
}

TEST_CASE("secure sum parameters parse back and refuse what would let one site's value out") {
  SecureSumKeysParams keys{42, {"a", "b", "c"}, 2};
  Result<SecureSumKeysParams> parsed = SecureSumKeysParams::Parse(keys.ToJson());
  REQUIRE(parsed.ok());
  CHECK(parsed->sites == keys.sites);
  keys.threshold = 1;
  CHECK(SecureSumKeysParams::Parse(keys.ToJson()).status().code() == StatusCode::kInvalidArgument);
  keys.threshold = 4;
  CHECK_FALSE(SecureSumKeysParams::Parse(keys.ToJson()).ok());
  // Two of four: a master could gather a site's seed from two sites and its key from two others.
  CHECK_FALSE(SecureSumKeysParams::Parse(SecureSumKeysParams{42, {"a", "b", "c", "d"}, 2}.ToJson()).ok());
  CHECK(SecureSumKeysParams::Parse(SecureSumKeysParams{42, {"a", "b", "c", "d"}, 3}.ToJson()).ok());
  CHECK_FALSE(SecureSumKeysParams::Parse({{"session", 1}, {"sites", {"a", "a"}}, {"threshold", 2}}).ok());
  SecureSumMaskParams mask{42, {{"a", Bytes{1, 2}}}, 60, {}};
  CHECK_FALSE(SecureSumMaskParams::Parse(mask.ToJson()).ok());
  mask.fraction_bits = 20;
  Result<SecureSumMaskParams> m = SecureSumMaskParams::Parse(mask.ToJson());
  REQUIRE(m.ok());
  CHECK(m->shares.at("a") == Bytes{1, 2});
  CHECK(m->word_bits == 64);  // what a message without word_bits means
  mask.word_bits = 32;
  m = SecureSumMaskParams::Parse(mask.ToJson());
  REQUIRE(m.ok());
  CHECK(m->word_bits == 32);
  mask.fraction_bits = 31;  // more than a 32-bit word holds
  CHECK(SecureSumMaskParams::Parse(mask.ToJson()).status().code() == StatusCode::kInvalidArgument);
  nlohmann::json odd = SecureSumMaskParams{42, {{"a", Bytes{1, 2}}}, 20, {}, 32}.ToJson();
  odd["word_bits"] = 16;
  CHECK(SecureSumMaskParams::Parse(odd).status().message().find("must be 32 or 64") != std::string::npos);
}

}  // namespace
}  // namespace fedra

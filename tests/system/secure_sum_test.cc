// The secure sum over real site processes and mutual TLS: its result is the plain sum to the
// stated precision; what the master receives from a site is statistically independent of that
// site's value; a site lost after sharing its secrets is recovered, one lost before is left
// out; keys the master alters or signs itself are refused; secure-aggregate data leaves only
// masked, and only in a sum over the sites' minimum of sites.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "common/certificates.h"
#include "common/digest.h"
#include "federated/instruction.h"
#include "federated/secure_sum.h"
#include "federated/secure_sum_crypto.h"
#include "master/federation/secure_sum.h"
#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace fedra {
namespace {

using testing::LocalFederation;
using testing::TempDir;

constexpr int kRows = 40;

Matrix SiteData(int site) {
  std::mt19937 rng(100 + site);
  std::normal_distribution<double> normal(50, 20);
  Matrix m(kRows, 3);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = std::round(normal(rng) * 1000) / 1000;
  return m;
}

struct SumFederation {
  TempDir dir;
  std::vector<std::string> names;
  LocalFederation local;
  std::unique_ptr<Federation> fed;
  std::map<std::string, Matrix> data;

  explicit SumFederation(std::vector<std::string> sites, std::string privacy = "secure-aggregate")
      : names(sites), local(dir.path(), sites) {
    for (size_t i = 0; i < sites.size(); ++i) {
      data[sites[i]] = SiteData(static_cast<int>(i));
      local.AddCsvDataset(sites[i], "vals", data[sites[i]], {"x", "y", "z"}, privacy);
    }
    local.StartAll();
    fed = local.Connect();
  }

  // Each site's `op` of its rows, kept there: the variables to sum.
  std::map<std::string, VarId> Aggregates(Op op) {
    SiteRequests batch;
    std::map<std::string, VarId> out;
    for (const std::string& site : names) {
      const VarId x = fed->NewVarId(), a = fed->NewVarId();
      batch[site] = {Request::Read(x, "vals"), Request::Run(a, op, {x})};
      out[site] = a;
    }
    REQUIRE_MESSAGE(FirstError(fed->Call(batch)).ok(), FirstError(fed->Call(batch)).ToString());
    return out;
  }

  Matrix Pooled(Op op, const std::vector<std::string>& sites) const {
    Matrix total;
    for (const std::string& s : sites) {
      const Matrix& x = data.at(s);
      Matrix v = op == Op::kColSums ? Matrix(x.colwise().sum()) : Matrix(x.transpose() * x);
      total = total.size() == 0 ? v : Matrix(total + v);
    }
    return total;
  }
};

// The phases run by hand, for what the master's own SecureSum would never do.
struct ManualSession {
  Federation& fed;
  SecureSumKeysParams session;
  std::map<std::string, AdvertisedKeys> keys;

  ManualSession(Federation& f, std::vector<std::string> sites, uint64_t id) : fed(f), session{id, std::move(sites), 2} {
    SiteRequests batch;
    for (const std::string& s : session.sites) batch[s] = {Request::SecureSum(kSecureSumKeys, session.ToJson())};
    for (auto& [site, answers] : fed.Call(batch)) {
      REQUIRE(answers.ok());
      REQUIRE_MESSAGE(answers->at(0).status.ok(), answers->at(0).status.ToString());
      Result<AdvertisedKeys> k = AdvertisedKeys::Parse(answers->at(0).meta);
      REQUIRE(k.ok());
      keys[site] = *k;
    }
  }

  // Sends `advertised` in the shares phase; returns each site's answer.
  std::map<std::string, Response> Share(const std::vector<AdvertisedKeys>& advertised) {
    SecureSumSharesParams params{session.session, advertised};
    SiteRequests batch;
    for (const std::string& s : session.sites) batch[s] = {Request::SecureSum(kSecureSumShares, params.ToJson())};
    std::map<std::string, Response> out;
    for (auto& [site, answers] : fed.Call(batch)) {
      REQUIRE(answers.ok());
      out[site] = answers->at(0);
    }
    return out;
  }

  std::vector<AdvertisedKeys> All() const {
    std::vector<AdvertisedKeys> all;
    for (const auto& [site, k] : keys) all.push_back(k);
    return all;
  }

  // Shares as sent, then masks of vars: the masked words each site sent.
  std::map<std::string, std::vector<uint64_t>> Mask(const std::map<std::string, VarId>& vars) {
    std::map<std::string, Response> shared = Share(All());
    std::map<std::string, std::map<std::string, Bytes>> inbox;
    for (const auto& [from, r] : shared) {
      REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
      for (const auto& [to, hex] : r.meta["shares"].items()) {
        std::vector<unsigned char> bytes;
        REQUIRE(FromHex(hex.get<std::string>(), &bytes));
        inbox[to][from] = Bytes(bytes.begin(), bytes.end());
      }
    }
    SiteRequests batch;
    for (const auto& [site, var] : vars) {
      SecureSumMaskParams params{session.session, inbox[site], 32, {}};
      batch[site] = {Request::SecureSum(kSecureSumMask, params.ToJson(), {var})};
    }
    std::map<std::string, std::vector<uint64_t>> out;
    for (auto& [site, answers] : fed.Call(batch)) {
      REQUIRE(answers.ok());
      const Response& r = answers->at(0);
      REQUIRE_MESSAGE(r.status.ok(), r.status.ToString());
      std::vector<uint64_t> words(r.packed.size() / 8);
      std::memcpy(words.data(), r.packed.data(), r.packed.size());
      out[site] = std::move(words);
    }
    return out;
  }
};

// Pearson's correlation of two equally long word sequences, read as numbers in [0, 1).
double Correlation(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  const auto unit = [](uint64_t w) { return std::ldexp(static_cast<double>(w >> 11), -53); };
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += unit(a[i]), mb += unit(b[i]);
  ma /= a.size();
  mb /= b.size();
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (unit(a[i]) - ma) * (unit(b[i]) - mb);
    aa += (unit(a[i]) - ma) * (unit(a[i]) - ma);
    bb += (unit(b[i]) - mb) * (unit(b[i]) - mb);
  }
  return ab / std::sqrt(aa * bb);
}

TEST_CASE("a secure sum over four site processes is the plain sum to its stated precision") {
  SumFederation f({"a", "b", "c", "d"});
  for (Op op : {Op::kColSums, Op::kTsmm}) {
    const std::map<std::string, VarId> vars = f.Aggregates(op);
    std::vector<std::string> phases;
    SecureSumOptions options;
    options.on_phase = [&](std::string_view phase, size_t answered) {
      phases.push_back(std::string(phase));
      CHECK(answered == 4);
    };
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars, options);
    REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
    CHECK(phases == std::vector<std::string>{"keys", "shares", "mask", "consistency", "unmask"});
    CHECK(sum->summed == f.names);
    CHECK(sum->recovered.empty());
    CHECK(sum->left_out.empty());
    CHECK(sum->min_rows == 10);
    const Matrix pooled = f.Pooled(op, f.names);
    REQUIRE(sum->sum.rows() == pooled.rows());
    REQUIRE(sum->sum.cols() == pooled.cols());
    // 4 sites at 32 fraction bits: within 4 x 2^-33.
    CHECK(sum->resolution == doctest::Approx(4 * std::ldexp(1.0, -33)));
    CHECK((sum->sum - pooled).cwiseAbs().maxCoeff() <= sum->resolution);
  }
  // The same aggregates never leave as they are, nor in a sum over other sites, which could be
  // differenced with the sums over all four.
  const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
  std::map<std::string, VarId> three = vars;
  three.erase("d");
  Result<SecureSumResult> differenced = SecureSum(*f.fed, three);
  REQUIRE_FALSE(differenced.ok());
  CHECK(differenced.status().code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(differenced.status().message().find("cover sites a, b, c, d") != std::string::npos,
                differenced.status().message());
  SiteResponses plain = f.fed->Call({{"a", {Request::Get(vars.at("a"))}}});
  const Status refused = plain.at("a")->at(0).status;
  CHECK(refused.code() == StatusCode::kPermissionDenied);
  CHECK(refused.message().find("only inside a secure sum") != std::string::npos);
  // A site lost after sharing is not recovered here: the sum would then differ from a sum over
  // all four by that site's value.
  SecureSumOptions options;
  options.on_phase = [&](std::string_view phase, size_t) {
    if (phase == kSecureSumShares) REQUIRE(f.local.Stop("d").has_value());
  };
  Result<SecureSumResult> partial = SecureSum(*f.fed, f.Aggregates(Op::kColSums), options);
  REQUIRE_FALSE(partial.ok());
  CHECK(partial.status().code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(partial.status().message().find("every site of its sums must see them through") != std::string::npos,
                partial.status().message());
}

TEST_CASE("a secure sum in 32-bit words is the plain sum to its resolution in half the bytes") {
  SumFederation f({"a", "b", "c", "d"});
  const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);  // 3 columns, sums near 2,000
  const Matrix pooled = f.Pooled(Op::kColSums, f.names);
  SecureSumOptions options;
  options.word_bits = 32;
  options.fraction_bits = 16;  // 4 sites: values up to 2^14 / 4 = 4,096
  Result<SecureSumResult> sum = SecureSum(*f.fed, vars, options);
  REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
  CHECK(sum->resolution == 4 * std::ldexp(1.0, -17));
  CHECK((sum->sum - pooled).cwiseAbs().maxCoeff() <= sum->resolution);
  CHECK(sum->bytes_up == 4 * 3 * sizeof(uint32_t));
  // At 20 fraction bits the range is +-256: each site refuses its sums, saying what to change.
  options.fraction_bits = 20;
  Result<SecureSumResult> refused = SecureSum(*f.fed, f.Aggregates(Op::kColSums), options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK_MESSAGE(refused.status().message().find("beyond the fixed point's range of +-256") != std::string::npos,
                refused.status().message());
  CHECK_MESSAGE(refused.status().message().find("or 64-bit words") != std::string::npos, refused.status().message());
  options.fraction_bits = 31;
  CHECK(SecureSum(*f.fed, vars, options).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("what the master receives from a site is independent of that site's value") {
  SumFederation f({"a", "b", "c"}, "public");
  // Site a's value is all zeros in one session and a steep ramp in the other; the others hold ones.
  constexpr int kWords = 4000;
  std::map<std::string, std::vector<uint64_t>> masked[2];
  for (int round = 0; round < 2; ++round) {
    SiteRequests batch;
    std::map<std::string, VarId> vars;
    for (const std::string& site : f.names) {
      Matrix v = Matrix::Ones(kWords, 1);
      if (site == "a") v = round == 0 ? Matrix::Zero(kWords, 1) : Matrix(Eigen::VectorXd::LinSpaced(kWords, 0, 1e6));
      vars[site] = f.fed->NewVarId();
      batch[site] = {Request::Put(vars[site], v)};
    }
    REQUIRE(FirstError(f.fed->Call(batch)).ok());
    ManualSession session(*f.fed, f.names, 1000 + round);
    masked[round] = session.Mask(vars);
  }
  const std::vector<uint64_t>& zeros = masked[0].at("a");
  const std::vector<uint64_t>& ramp = masked[1].at("a");
  REQUIRE(zeros.size() == kWords);
  for (const std::vector<uint64_t>* words : {&zeros, &ramp}) {
    // Each of the 64 bit positions is set in about half the words (4 sigma: 3.2%), and the
    // words follow the value no more than chance would (|r| < 4 / sqrt(n)).
    for (int bit = 0; bit < 64; ++bit) {
      double ones = 0;
      for (uint64_t w : *words) ones += (w >> bit) & 1;
      CHECK(std::abs(ones / kWords - 0.5) < 0.032);
    }
    std::vector<uint64_t> ramp_value(kWords);
    for (int i = 0; i < kWords; ++i) ramp_value[static_cast<size_t>(i)] = static_cast<uint64_t>(i) << 40;
    CHECK(std::abs(Correlation(*words, ramp_value)) < 4 / std::sqrt(double{kWords}));
  }
  CHECK(std::abs(Correlation(zeros, ramp)) < 4 / std::sqrt(double{kWords}));
}

TEST_CASE("a site lost after sharing is recovered; one lost before is left out; the sum covers the rest") {
  // private-aggregate: a sum of secure-aggregate data needs every site (the next test).
  SumFederation f({"a", "b", "c", "d"}, "private-aggregate");
  SUBCASE("lost before the keys") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    REQUIRE(f.local.Stop("d").has_value());
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars);
    REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
    CHECK(sum->left_out == std::vector<std::string>{"d"});
    CHECK(sum->summed == std::vector<std::string>{"a", "b", "c"});
    CHECK((sum->sum - f.Pooled(Op::kColSums, {"a", "b", "c"})).cwiseAbs().maxCoeff() <= sum->resolution);
  }
  SUBCASE("lost after sharing, before masking") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kTsmm);
    SecureSumOptions options;
    options.on_phase = [&](std::string_view phase, size_t) {
      if (phase == kSecureSumShares) REQUIRE(f.local.Stop("c").has_value());
    };
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars, options);
    REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
    CHECK(sum->recovered == std::vector<std::string>{"c"});
    CHECK(sum->summed == std::vector<std::string>{"a", "b", "d"});
    CHECK((sum->sum - f.Pooled(Op::kTsmm, {"a", "b", "d"})).cwiseAbs().maxCoeff() <= sum->resolution);
  }
  SUBCASE("lost after sharing, in 32-bit words: its pairwise masks come off in Z_2^32") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    SecureSumOptions options;
    options.word_bits = 32;
    options.fraction_bits = 16;
    options.on_phase = [&](std::string_view phase, size_t) {
      if (phase == kSecureSumShares) REQUIRE(f.local.Stop("c").has_value());
    };
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars, options);
    REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
    CHECK(sum->recovered == std::vector<std::string>{"c"});
    CHECK(sum->bytes_up == 3 * 3 * sizeof(uint32_t));
    CHECK((sum->sum - f.Pooled(Op::kColSums, {"a", "b", "d"})).cwiseAbs().maxCoeff() <= sum->resolution);
  }
  SUBCASE("lost after masking: its value is in the sum") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    SecureSumOptions options;
    options.on_phase = [&](std::string_view phase, size_t) {
      if (phase == kSecureSumMask) REQUIRE(f.local.Stop("b").has_value());
    };
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars, options);
    REQUIRE_MESSAGE(sum.ok(), sum.status().ToString());
    CHECK(sum->summed == f.names);
    CHECK((sum->sum - f.Pooled(Op::kColSums, f.names)).cwiseAbs().maxCoeff() <= sum->resolution);
  }
  SUBCASE("too few left") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    for (const char* site : {"b", "c", "d"}) REQUIRE(f.local.Stop(site).has_value());
    Result<SecureSumResult> sum = SecureSum(*f.fed, vars);
    REQUIRE_FALSE(sum.ok());
    CHECK(sum.status().code() == StatusCode::kUnavailable);
    CHECK(sum.status().message().find("fewer than the threshold of 3") != std::string::npos);
  }
}

TEST_CASE("sites refuse keys the master altered or signed itself, and answer one unmask per session") {
  SumFederation f({"a", "b", "c"}, "private-aggregate");
  SUBCASE("altered") {
    ManualSession session(*f.fed, f.names, 77);
    std::vector<AdvertisedKeys> keys = session.All();
    keys[1].mask_key[0] ^= 1;  // b's key, with b's signature
    const std::map<std::string, Response> answers = session.Share(keys);
    for (const char* site : {"a", "c"}) {
      const Status& s = answers.at(site).status;
      CHECK(s.code() == StatusCode::kPermissionDenied);
      CHECK_MESSAGE(
          s.message().find("keys given for site 'b' are refused: the signature does not verify") != std::string::npos,
          s.message());
    }
    CHECK(answers.at("b").status.message().find("not the ones it made") != std::string::npos);
  }
  SUBCASE("signed by the master") {
    ManualSession session(*f.fed, f.names, 78);
    std::vector<AdvertisedKeys> keys = session.All();
    Result<X25519Keys> own = NewX25519Keys();
    REQUIRE(own.ok());
    Result<std::unique_ptr<CertificateSigner>> master = CertificateSigner::Open(f.local.master_tls());
    REQUIRE(master.ok());
    keys[2].mask_key = own->public_key;
    keys[2].certificate = (*master)->certificate_pem();
    Result<Bytes> signature = (*master)->Sign(SignedKeysText(session.session, keys[2]));
    REQUIRE(signature.ok());
    keys[2].signature = *signature;
    const std::map<std::string, Response> answers = session.Share(keys);
    const Status& s = answers.at("a").status;
    CHECK(s.code() == StatusCode::kPermissionDenied);
    CHECK_MESSAGE(s.message().find("are signed by master 'm'") != std::string::npos, s.message());
  }
  // The survivors' signatures on a list, each site asked to sign `lists[site]`.
  const auto sign = [&](uint64_t id, const std::map<std::string, std::vector<std::string>>& lists) {
    std::map<std::string, Bytes> signatures;
    for (const auto& [site, list] : lists) {
      SiteResponses r = f.fed->Call(
          {{site, {Request::SecureSum(kSecureSumConsistency, SecureSumUnmaskParams{id, list, {}}.ToJson())}}});
      REQUIRE_MESSAGE(r.at(site)->at(0).status.ok(), r.at(site)->at(0).status.ToString());
      std::vector<unsigned char> bytes;
      REQUIRE(FromHex(r.at(site)->at(0).meta["signature"].get<std::string>(), &bytes));
      signatures[site] = Bytes(bytes.begin(), bytes.end());
    }
    return signatures;
  };
  const auto unmask = [&](const std::string& site, SecureSumUnmaskParams params) {
    return f.fed->Call({{site, {Request::SecureSum(kSecureSumUnmask, params.ToJson())}}}).at(site)->at(0).status;
  };
  SUBCASE("a second unmask") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    ManualSession session(*f.fed, f.names, 79);
    session.Mask(vars);
    const std::map<std::string, Bytes> signatures = sign(79, {{"a", f.names}, {"b", f.names}, {"c", f.names}});
    CHECK(unmask("a", {79, f.names, signatures}).ok());
    // The same session asked again with c as dropped would reveal c's mask key beside its seed.
    CHECK(unmask("a", {79, {"a", "b"}, signatures}).code() == StatusCode::kFailedPrecondition);
  }
  SUBCASE("different survivors told to different sites") {
    const std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
    ManualSession session(*f.fed, f.names, 80);
    session.Mask(vars);
    // a and c are told all survived, b that c dropped: b's list has only b's signature.
    const std::vector<std::string> without_c = {"a", "b"};
    std::map<std::string, Bytes> signatures = sign(80, {{"a", f.names}, {"b", without_c}, {"c", f.names}});
    const Status b = unmask("b", {80, without_c, signatures});
    CHECK(b.code() == StatusCode::kPermissionDenied);
    CHECK_MESSAGE(b.message().find("1 survivors signed this list") != std::string::npos, b.message());
    // c cannot be talked into another list than the one it signed.
    const Status c = unmask("c", {80, without_c, signatures});
    CHECK(c.code() == StatusCode::kPermissionDenied);
    CHECK(c.message().find("not the ones this site signed") != std::string::npos);
    // a, with the threshold of signatures on its own list, reveals.
    CHECK(unmask("a", {80, f.names, signatures}).ok());
  }
}

TEST_CASE("secure-aggregate data leaves only in a sum over the sites' minimum of sites") {
  SumFederation f({"a", "b", "c"});
  // Two sites are enough for the threshold, not for the sites' minimum of three.
  std::map<std::string, VarId> vars = f.Aggregates(Op::kColSums);
  vars.erase("c");
  Result<SecureSumResult> sum = SecureSum(*f.fed, vars);
  REQUIRE_FALSE(sum.ok());
  CHECK(sum.status().code() == StatusCode::kPermissionDenied);
  CHECK_MESSAGE(sum.status().message().find("at least 3 sites") != std::string::npos, sum.status().message());
  // Row-level values never go into a sum.
  SiteRequests batch;
  std::map<std::string, VarId> rows;
  for (const std::string& site : f.names) {
    rows[site] = f.fed->NewVarId();
    batch[site] = {Request::Read(rows[site], "vals")};
  }
  REQUIRE(FirstError(f.fed->Call(batch)).ok());
  Result<SecureSumResult> row_sum = SecureSum(*f.fed, rows);
  REQUIRE_FALSE(row_sum.ok());
  CHECK(row_sum.status().message().find("row-level values may not leave") != std::string::npos);
}

}  // namespace
}  // namespace fedra

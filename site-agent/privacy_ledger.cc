#include "site-agent/privacy_ledger.h"

#include "federated/rdp_accountant.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/config.h"

namespace fedra {

double ZcdpEpsilon(double rho, double delta) {
  const double bun_steinke = rho + 2 * std::sqrt(rho * std::log(1 / delta));
  if (!(rho > 0)) return bun_steinke;
  std::vector<double> curve;
  for (double order : DefaultRdpOrders()) curve.push_back(order * rho);
  return std::min(bun_steinke, EpsilonFromRdp(DefaultRdpOrders(), curve, delta).epsilon);
}

namespace {

// The secret as hex text, and back (OpenSSL's helpers, without separators).
std::string Hex(const std::array<unsigned char, 32>& secret) {
  char text[2 * 32 + 1];
  size_t length = 0;
  OPENSSL_buf2hexstr_ex(text, sizeof text, &length, secret.data(), secret.size(), '\0');
  return std::string(text);
}

bool FromHex(const std::string& text, std::array<unsigned char, 32>* secret) {
  size_t length = 0;
  return OPENSSL_hexstr2buf_ex(secret->data(), secret->size(), &length, text.c_str(), '\0') == 1 &&
         length == secret->size();
}

}  // namespace

Result<std::unique_ptr<PrivacyLedger>> PrivacyLedger::Open(const std::filesystem::path& path) {
  std::unique_ptr<PrivacyLedger> ledger(new PrivacyLedger(path));
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (RAND_bytes(ledger->secret_.data(), static_cast<int>(ledger->secret_.size())) != 1) {
      return Internal("privacy ledger: no random bytes for the site secret");
    }
    std::lock_guard lock(ledger->mu_);
    FEDRA_RETURN_IF_ERROR(ledger->WriteLocked());
    return ledger;
  }
  const std::string where = path.string() + ": ";
  Result<nlohmann::json> loaded = LoadJsonFile(path);
  const nlohmann::json doc = loaded.ok() ? std::move(loaded).value() : nlohmann::json();
  if (!doc.is_object() || !doc.contains("secret") || !doc["secret"].is_string() ||
      !FromHex(doc["secret"].get<std::string>(), &ledger->secret_)) {
    return DataLoss(where +
                    "the privacy ledger cannot be read; restore it from a backup (starting afresh would "
                    "forget the privacy budget already spent)");
  }
  const nlohmann::json spent = doc.value("spent", nlohmann::json::object());
  for (const auto& [dataset, entry] : spent.items()) {
    if (!entry.is_object() || !entry.contains("rho") || !entry.at("rho").is_number() || !entry.contains("releases") ||
        !entry.at("releases").is_number_integer() || entry.at("rho").get<double>() < 0) {
      return DataLoss(where + "the privacy ledger's entry for '" + dataset + "' is malformed");
    }
    ledger->spent_[dataset] = {entry.at("rho").get<double>(), entry.at("releases").get<uint64_t>()};
  }
  return ledger;
}

Status PrivacyLedger::WriteLocked() const {
  nlohmann::json spent = nlohmann::json::object();
  for (const auto& [dataset, s] : spent_) {
    spent[dataset] = {{"rho", s.rho}, {"epsilon_at_1e-6", ZcdpEpsilon(s.rho, 1e-6)}, {"releases", s.releases}};
  }
  const std::string text = nlohmann::json{{"secret", Hex(secret_)}, {"spent", spent}}.dump(2) + "\n";
  const std::string tmp = path_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(tmp + ": cannot write the privacy ledger: " + std::strerror(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    written += static_cast<size_t>(n);
  }
  const bool ok = written == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path_, ec);
  if (!ok || ec) return Unavailable(path_.string() + ": cannot write the privacy ledger");
  return Status::Ok();
}

Result<BudgetSpent> PrivacyLedger::Spend(const std::string& dataset, double rho, double epsilon, double delta) {
  std::lock_guard lock(mu_);
  BudgetSpent& s = spent_[dataset];
  const BudgetSpent before = s;
  const double total = ZcdpEpsilon(s.rho + rho, delta);
  if (!(rho > 0) || !(total <= epsilon)) {
    return PermissionDenied(
        "dataset '" + dataset + "': this release would bring its privacy loss to epsilon " + std::to_string(total) +
        " at delta " + std::to_string(delta) + ", past its budget of " + std::to_string(epsilon) +
        " (spent so far: epsilon " + std::to_string(ZcdpEpsilon(s.rho, delta)) + " over " + std::to_string(s.releases) +
        " releases); ask for more noise (params.noise_multiplier) or a new budget from the data owner");
  }
  s.rho += rho;
  s.releases += 1;
  if (Status w = WriteLocked(); !w.ok()) {
    s = before;
    return w;
  }
  return s;
}

BudgetSpent PrivacyLedger::spent(const std::string& dataset) const {
  std::lock_guard lock(mu_);
  auto it = spent_.find(dataset);
  return it == spent_.end() ? BudgetSpent{} : it->second;
}

uint64_t PrivacyLedger::KeyedSeed(const std::string& dataset, uint64_t seed) const {
  const std::string message = dataset + '\0' + std::to_string(seed);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  uint64_t out = 0;
  std::memcpy(&out, digest, sizeof out);
  return out;
}

}  // namespace fedra

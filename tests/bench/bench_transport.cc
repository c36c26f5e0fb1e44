// Transport benchmark: round trip of a tiny request and transfer rate of a 100 MB matrix GET
// over mutual TLS on loopback, against a real fedra-site process. The baseline, measured in the
// same run, is this machine's OpenSSL AES-256-GCM encryption rate on one core: a TLS transfer
// cannot beat it, so the ratio says how much of the cipher's speed the transport delivers.
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "tests/support/local_federation.h"
#include "tests/support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

double AesGcmMBps(size_t bytes) {
  std::vector<unsigned char> in(bytes, 0x5a), out(bytes + 16);
  unsigned char key[32] = {1}, iv[12] = {2}, tag[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = Clock::now();
    int len = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, iv);
    // Records of 16 KiB, as TLS sends them.
    for (size_t off = 0; off < bytes; off += 16384) {
      EVP_EncryptUpdate(ctx, out.data() + off, &len, in.data() + off,
                        static_cast<int>(std::min<size_t>(16384, bytes - off)));
    }
    EVP_EncryptFinal_ex(ctx, out.data(), &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    best = std::max(best, bytes / 1e6 / std::chrono::duration<double>(Clock::now() - start).count());
  }
  EVP_CIPHER_CTX_free(ctx);
  return best;
}

}  // namespace

int main() {
  using namespace fedra;
  testing::TempDir dir("fedra-bench");
  testing::LocalFederation local(dir.path(), {"a"});
  local.EditConfig("a", [](nlohmann::json& c) { c["limits"]["max_message_bytes"] = 256 << 20; });
  local.StartAll();
  auto fed = local.Connect(std::chrono::seconds(120));

  // Round trip of a ping batch (connection already warm).
  (void)fed->CallAll({Request::Ping()});
  std::vector<double> micros;
  for (int i = 0; i < 2000; ++i) {
    const auto start = Clock::now();
    Status s = FirstError(fed->CallAll({Request::Ping()}));
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!s.ok()) {
      std::fprintf(stderr, "ping failed: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::sort(micros.begin(), micros.end());
  std::printf("tiny request round trip (mutual TLS, loopback, 2000 calls): median %.0f us, p99 %.0f us\n",
              micros[micros.size() / 2], micros[micros.size() * 99 / 100]);

  // 100 MB matrix GET: put once (public), then time the gets.
  const Eigen::Index rows = 100'000'000 / 8 / 100;
  Matrix m = Matrix::Random(rows, 100);
  const VarId var = fed->NewVarId();
  Status put = FirstError(fed->CallAll({Request::Put(var, m)}));
  if (!put.ok()) {
    std::fprintf(stderr, "put failed: %s\n", put.ToString().c_str());
    return 1;
  }
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    SiteResponses r = fed->CallAll({Request::Get(var)});
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (!FirstError(r).ok() || (*r.at("a"))[0].value->size() != m.size()) return 1;
    best = std::max(best, MatrixBytes(m) / 1e6 / secs);
  }
  const double aes = AesGcmMBps(MatrixBytes(m));
  std::printf("100 MB matrix get: %.0f MB/s; OpenSSL AES-256-GCM on one core: %.0f MB/s; ratio %.2f\n", best, aes,
              best / aes);
  return 0;
}

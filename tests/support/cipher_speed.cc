#include "tests/support/cipher_speed.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace fedra::testing {

double AesGcmMBps(size_t bytes) {
  using Clock = std::chrono::steady_clock;
  std::vector<unsigned char> in(bytes, 0x5a), out(bytes + 16);
  unsigned char key[32] = {1}, iv[12] = {2}, tag[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto start = Clock::now();
    int len = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, iv);
    for (size_t off = 0; off < bytes; off += 16384) {
      EVP_EncryptUpdate(ctx, out.data() + off, &len, in.data() + off,
                        static_cast<int>(std::min<size_t>(16384, bytes - off)));
    }
    EVP_EncryptFinal_ex(ctx, out.data(), &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag);
    best =
        std::max(best, static_cast<double>(bytes) / 1e6 / std::chrono::duration<double>(Clock::now() - start).count());
  }
  EVP_CIPHER_CTX_free(ctx);
  return best;
}

}  // namespace fedra::testing

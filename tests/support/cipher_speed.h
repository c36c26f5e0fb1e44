// The rate of the cipher under fedra's TLS on this machine, for benchmarks that compare a transfer
// with what sealing its bytes alone costs: OpenSSL's AES-256-GCM (TLS 1.3's first suite), one core.
#pragma once

#include <cstddef>

namespace fedra::testing {

// MB/s sealing `bytes` in 16 KiB records, as TLS sends them; the best of three passes.
double AesGcmMBps(size_t bytes);

}  // namespace fedra::testing

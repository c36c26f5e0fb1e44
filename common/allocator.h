// Training rounds allocate and free model-sized buffers (megabytes) many times a second. By
// default glibc hands buffers that large straight back to the kernel, so every round pays for
// fresh zeroed pages again; keeping freed memory for reuse up to a bound removes that cost.
#pragma once

#include <cstddef>

namespace fedra {

// Call once at process start, before threads.
void KeepFreedMemoryForReuse();

// Asks for transparent huge pages under a large buffer about to be filled (a received matrix):
// one fault per 2 MiB instead of per 4 KiB, which on virtual machines costs more than the copy.
void AdviseHugePages(void* data, size_t bytes);

}  // namespace fedra

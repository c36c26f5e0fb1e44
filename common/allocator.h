// Training rounds allocate and free model-sized buffers (megabytes) many times a second. By
// default glibc hands buffers that large straight back to the kernel, so every round pays for
// fresh zeroed pages again; keeping freed memory for reuse up to a bound removes that cost.
#pragma once

namespace fedra {

// Call once at process start, before threads.
void KeepFreedMemoryForReuse();

}  // namespace fedra

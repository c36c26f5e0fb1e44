// Training rounds allocate and free model-sized buffers (megabytes) many times a second. By
// default glibc hands buffers that large straight back to the kernel, so every round pays for
// fresh zeroed pages again; keeping freed memory for reuse up to a bound removes that cost.
//
// Memory that is new to the process is not asked for on transparent huge pages: on a virtual
// machine whose host takes back free memory, fresh huge pages cost the host's faults as well, and
// a 100 MB put to a site ran at 151 to 177 MB/s with them against 695 to 764 MB/s without.
#pragma once

#include <cstddef>

namespace fedra {

// Call once at process start, before threads.
void KeepFreedMemoryForReuse();

// For the master, which receives the sites' values: KeepFreedMemoryForReuse, and buffers of any
// size come from one heap and are reused, so a 100 MB value does not arrive in freshly zeroed
// pages each time (a tenth of a 100 MB get's time went to that). Up to 256 MiB of free heap is kept
// at its top; ReturnFreedMemory gives back the rest when the work is done. Call once at process
// start, before threads.
void KeepLargeBuffersForReuse();

// Returns the free memory the heap kept to the system (at the end of a job).
void ReturnFreedMemory();

// Maps in the pages under a buffer about to be filled (a received value's next chunk) in one call,
// rather than a fault per page as it is written: 100 MB took 33 ms here against 53 to 70 ms.
// Pages already mapped are left as they are; where the system cannot, the writes fault them in.
void MapInPages(void* data, size_t bytes);

}  // namespace fedra

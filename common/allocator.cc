#include "common/allocator.h"

#include <malloc.h>

namespace fedra {

void KeepFreedMemoryForReuse() {
  // Buffers up to 32 MiB (an 8M-parameter float model; glibc allows no more everywhere) come
  // from the heap and are reused; larger ones are still mapped and unmapped. Up to 128 MiB of
  // freed heap is kept.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

void KeepLargeBuffersForReuse() {
  KeepFreedMemoryForReuse();
  // Threads' own arenas map anything over 64 MiB afresh whatever M_MMAP_MAX says; with one arena
  // every buffer comes from the main heap.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

void ReturnFreedMemory() { (void)malloc_trim(0); }

}  // namespace fedra

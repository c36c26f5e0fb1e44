#include "common/allocator.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

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

void MapInPages(void* data, size_t bytes) {
#ifdef MADV_POPULATE_WRITE  // Linux 5.14 and later
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // The whole pages inside the buffer: those at its edges may hold other data.
  const auto begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end <= begin) return;
  // Memory the heap gives again is mapped already, and asking costs a tenth of a get's time: a
  // buffer whose first page is mapped is taken to be reused.
  unsigned char first = 0;
  if (mincore(reinterpret_cast<void*>(begin), page, &first) == 0 && (first & 1)) return;
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace fedra

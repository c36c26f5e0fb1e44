// Pages mapped in before a received chunk is written: whole pages inside the buffer only, and
// nothing changed in what the buffer holds.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "common/allocator.h"

namespace fedra {
namespace {

// Which of the `pages` pages from `at` are mapped in.
std::vector<bool> Resident(uint8_t* at, size_t pages, size_t page) {
  std::vector<unsigned char> flags(pages);
  REQUIRE(mincore(at, pages * page, flags.data()) == 0);
  std::vector<bool> resident;
  for (unsigned char f : flags) resident.push_back((f & 1) != 0);
  return resident;
}

}  // namespace

TEST_CASE("MapInPages maps in the whole pages inside a fresh buffer, and only those") {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE)), pages = 8;
  auto* region =
      static_cast<uint8_t*>(mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(region != MAP_FAILED);
  if (madvise(region, page, MADV_POPULATE_WRITE) != 0) {
    MESSAGE("skipped: this kernel cannot map pages in ahead (madvise: errno " << errno << ")");
    munmap(region, pages * page);
    return;
  }
  (void)madvise(region, page, MADV_DONTNEED);  // back to unmapped, as fresh memory is
  CHECK(Resident(region, pages, page) == std::vector<bool>(pages, false));

  // A buffer from the middle of page 1 to the middle of page 6: pages 2 to 5 lie wholly inside.
  MapInPages(region + page + page / 2, 5 * page);
  CHECK(Resident(region, pages, page) == std::vector<bool>{false, false, true, true, true, true, false, false});
  for (size_t i = 2 * page; i < 6 * page; ++i) REQUIRE(region[i] == 0);  // fresh memory still reads as zeros

  // A buffer shorter than a page maps nothing in.
  MapInPages(region + 6 * page + 1, page - 2);
  CHECK_FALSE(Resident(region, pages, page)[6]);
  munmap(region, pages * page);
}

TEST_CASE("MapInPages leaves a mapped buffer's contents as they are") {
  std::vector<uint8_t> held(1 << 20);
  for (size_t i = 0; i < held.size(); ++i) held[i] = static_cast<uint8_t>(i * 7);
  MapInPages(held.data(), held.size());
  for (size_t i = 0; i < held.size(); ++i) REQUIRE(held[i] == static_cast<uint8_t>(i * 7));
}

}  // namespace fedra

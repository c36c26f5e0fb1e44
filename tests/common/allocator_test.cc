// Pages mapped in before a received chunk is written: whole pages inside the buffer only, what
// the buffer holds unchanged, and a buffer whose first page is mapped (reused memory) left alone.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "common/allocator.h"

namespace fedra {
namespace {

#ifdef MADV_POPULATE_WRITE

// Eight fresh pages, none mapped in yet; unmapped when it goes.
struct FreshPages {
  static constexpr size_t kPages = 8;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uint8_t* at =
      static_cast<uint8_t*>(mmap(nullptr, kPages* page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ~FreshPages() { munmap(at, kPages * page); }

  // Whether this kernel maps pages in ahead at all (Linux 5.14 and later); leaves none mapped.
  bool Supported() const {
    if (madvise(at, page, MADV_POPULATE_WRITE) != 0) {
      MESSAGE("skipped: this kernel cannot map pages in ahead (madvise: errno " << errno << ")");
      return false;
    }
    (void)madvise(at, page, MADV_DONTNEED);
    return true;
  }

  std::vector<bool> Resident() const {
    std::vector<unsigned char> flags(kPages);
    if (mincore(at, kPages * page, flags.data()) != 0) return {};
    std::vector<bool> resident;
    for (unsigned char f : flags) resident.push_back((f & 1) != 0);
    return resident;
  }
};

TEST_CASE("MapInPages maps in the whole pages inside a fresh buffer, and only those") {
  FreshPages fresh;
  REQUIRE(fresh.at != MAP_FAILED);
  if (!fresh.Supported()) return;
  const size_t page = fresh.page;
  CHECK(fresh.Resident() == std::vector<bool>(FreshPages::kPages, false));

  // A buffer from the middle of page 1 to the middle of page 6: pages 2 to 5 lie wholly inside.
  MapInPages(fresh.at + page + page / 2, 5 * page);
  CHECK(fresh.Resident() == std::vector<bool>{false, false, true, true, true, true, false, false});
  CHECK(std::all_of(fresh.at + 2 * page, fresh.at + 6 * page, [](uint8_t b) { return b == 0; }));

  // A buffer shorter than a page maps nothing in.
  MapInPages(fresh.at + 6 * page + 1, page - 2);
  CHECK_FALSE(fresh.Resident()[6]);
}

TEST_CASE("MapInPages keeps what a partly written buffer holds") {
  FreshPages fresh;
  REQUIRE(fresh.at != MAP_FAILED);
  if (!fresh.Supported()) return;
  const size_t page = fresh.page;
  // Pages 3 and 4 written, the rest of pages 1 to 6 fresh.
  for (size_t i = 3 * page; i < 5 * page; ++i) fresh.at[i] = static_cast<uint8_t>(i * 7);
  MapInPages(fresh.at + page, 6 * page);
  CHECK(fresh.Resident() == std::vector<bool>{false, true, true, true, true, true, true, false});
  bool kept = true;
  for (size_t i = page; i < 7 * page; ++i) {
    kept = kept && fresh.at[i] == (i >= 3 * page && i < 5 * page ? static_cast<uint8_t>(i * 7) : 0);
  }
  CHECK(kept);
}

TEST_CASE("MapInPages leaves a buffer whose first page is mapped, as reused memory is, to its writes") {
  FreshPages fresh;
  REQUIRE(fresh.at != MAP_FAILED);
  if (!fresh.Supported()) return;
  fresh.at[fresh.page] = 1;  // page 1 mapped in
  MapInPages(fresh.at + fresh.page, 4 * fresh.page);
  CHECK(fresh.Resident() == std::vector<bool>{false, true, false, false, false, false, false, false});
}

#endif  // MADV_POPULATE_WRITE

}  // namespace
}  // namespace fedra

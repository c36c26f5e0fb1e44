// The float copies of training rows a site keeps across a job's rounds: found while their
// variable lives, dropped once it is gone, bounded in bytes with the least recently used first
// out; rows only scored are kept only beside the others.
#include "site-agent/float_rows_cache.h"

#include <doctest/doctest.h>

#include "tests/support/random_data.h"

namespace fedra {

TEST_CASE("a variable's float rows are made once, follow the variable, and stay within the bound") {
  const auto a = std::make_shared<const Matrix>(testing::NormalMatrix(50, 4, 1));
  const auto b = std::make_shared<const Matrix>(testing::NormalMatrix(30, 4, 2));
  const uint64_t a_bytes = 50 * 4 * sizeof(float), b_bytes = 30 * 4 * sizeof(float);
  FloatRowsCache cache(4 * a_bytes);

  const std::shared_ptr<const RowMajorF> first = cache.Get(a);
  CHECK(*first == RowMajorF(a->cast<float>()));  // exact: each double rounded to its float
  CHECK(cache.Get(a) == first);                  // the same copy, not a new one
  CHECK(cache.size() == 1);
  CHECK(cache.bytes() == a_bytes);
  {
    const auto twin = std::make_shared<const Matrix>(*a);  // equal values, another variable
    CHECK(cache.Get(twin) != first);
    CHECK(cache.size() == 2);
  }
  // The twin's variable is gone: its copy goes at the next change.
  cache.Get(b);
  CHECK(cache.size() == 2);
  CHECK(cache.bytes() == a_bytes + b_bytes);

  // Room for a and b: a third variable pushes out the least recently used.
  FloatRowsCache lru(a_bytes + b_bytes);
  const std::shared_ptr<const RowMajorF> la = lru.Get(a), lb = lru.Get(b);
  CHECK(lru.Get(a) == la);  // a is now the more recent
  lru.Get(std::make_shared<const Matrix>(testing::NormalMatrix(10, 4, 3)));
  CHECK(lru.Get(a) == la);
  CHECK(lru.Get(b) != lb);  // b went, and is made again
  CHECK(lru.bytes() <= a_bytes + b_bytes);

  // Rows only scored are kept where they fit, and never push another copy out: with room for a
  // and b, b is kept beside a, and a third variable is made but not kept.
  FloatRowsCache shared(a_bytes + b_bytes);
  const std::shared_ptr<const RowMajorF> trained = shared.Get(a);
  const std::shared_ptr<const RowMajorF> scored = shared.Get(b, FloatRowsCache::Keep::kIfRoom);
  CHECK(shared.Get(b, FloatRowsCache::Keep::kIfRoom) == scored);
  const auto c = std::make_shared<const Matrix>(testing::NormalMatrix(10, 4, 4));
  const std::shared_ptr<const RowMajorF> c_rows = shared.Get(c, FloatRowsCache::Keep::kIfRoom);
  CHECK(*c_rows == RowMajorF(c->cast<float>()));
  CHECK(shared.size() == 2);
  CHECK(shared.Get(a) == trained);
  CHECK(shared.Get(b) == scored);
  // Training rows still make room, the least recently used copy going (a, here).
  const std::shared_ptr<const RowMajorF> c_kept = shared.Get(c);
  CHECK(c_kept != c_rows);  // made again: it was not kept before
  CHECK(shared.Get(c) == c_kept);
  CHECK(shared.Get(b) == scored);
  CHECK(shared.size() == 2);
  CHECK(shared.bytes() <= a_bytes + b_bytes);

  // Too large to keep: made, handed out, not kept.
  FloatRowsCache small(a_bytes - 1);
  const std::shared_ptr<const RowMajorF> once = small.Get(a);
  CHECK(once->rows() == 50);
  CHECK(small.size() == 0);
  CHECK(small.bytes() == 0);
}

}  // namespace fedra

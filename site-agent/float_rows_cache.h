// Float copies of the rows a site trains and scores models on, made once per variable rather
// than once per call: every round of a job trains (and validates) on the same variables, and
// turning 20,000 x 784 doubles into row-major floats took 35 to 50 ms of each round's call here.
//
// An entry follows its variable: it is found only while that very matrix lives (values are
// immutable, so the copy stays true), and dropped at the next Get or DropGone once the variable
// is gone (the executor calls DropGone when it clears variables). At most `max_bytes` of copies
// are kept, the least recently used going first; rows that are only scored are kept only where
// they fit beside the others, so that they never push a job's training rows out each round.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/matrix.h"
#include "site-agent/trainer.h"

namespace fedra {

class FloatRowsCache {
 public:
  explicit FloatRowsCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  enum class Keep {
    kMakingRoom,  // training rows: kept, the least recently used copies making room
    kIfRoom,      // rows only scored: kept only if no other copy must go
  };
  // RowMajorFloat(*x), kept for the next call with the same matrix as `keep` says.
  std::shared_ptr<const RowMajorF> Get(const std::shared_ptr<const Matrix>& x, Keep keep = Keep::kMakingRoom);
  // Frees the copies of variables that are gone.
  void DropGone();

  // What is kept, copies of gone variables not yet dropped included.
  uint64_t bytes() const;
  size_t size() const;

 private:
  struct Entry {
    std::weak_ptr<const Matrix> source;
    std::shared_ptr<const RowMajorF> rows;
    uint64_t bytes = 0;
    uint64_t last_used = 0;
  };
  // The entry of this very matrix (a live weak pointer to it: its address cannot have been
  // reused), or null. Holds mu_.
  Entry* Find(const std::shared_ptr<const Matrix>& x);
  // Drops entries whose variable is gone, then the least recently used while over `max_bytes_`.
  // Holds mu_.
  void Trim();

  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_
  uint64_t bytes_ = 0;          // guarded by mu_
  uint64_t clock_ = 0;          // guarded by mu_
};

}  // namespace fedra

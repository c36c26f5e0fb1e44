#include "site-agent/float_rows_cache.h"

#include <algorithm>

namespace fedra {

std::shared_ptr<const RowMajorF> FloatRowsCache::Get(const std::shared_ptr<const Matrix>& x, Keep keep) {
  {
    std::lock_guard lock(mu_);
    Trim();
    if (Entry* e = Find(x)) {
      e->last_used = ++clock_;
      return e->rows;
    }
  }
  // Converted without the lock: trainings on other variables go on meanwhile (two at once on
  // the same variable may both convert; one copy is kept).
  auto rows = std::make_shared<const RowMajorF>(RowMajorFloat(*x));
  const uint64_t bytes = static_cast<uint64_t>(rows->size()) * sizeof(float);
  std::lock_guard lock(mu_);
  if (const Entry* e = Find(x)) return e->rows;
  if (bytes > max_bytes_ || (keep == Keep::kIfRoom && bytes_ + bytes > max_bytes_)) return rows;
  entries_.push_back(Entry{x, rows, bytes, ++clock_});
  bytes_ += bytes;
  Trim();
  return rows;
}

FloatRowsCache::Entry* FloatRowsCache::Find(const std::shared_ptr<const Matrix>& x) {
  for (Entry& e : entries_) {
    if (e.source.lock() == x) return &e;
  }
  return nullptr;
}

void FloatRowsCache::Trim() {
  const auto gone = [](const Entry& e) { return e.source.expired(); };
  for (const Entry& e : entries_) {
    if (gone(e)) bytes_ -= e.bytes;
  }
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), gone), entries_.end());
  while (bytes_ > max_bytes_ && !entries_.empty()) {
    const auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                         [](const Entry& a, const Entry& b) { return a.last_used < b.last_used; });
    bytes_ -= oldest->bytes;
    entries_.erase(oldest);
  }
}

void FloatRowsCache::DropGone() {
  std::lock_guard lock(mu_);
  Trim();
}

uint64_t FloatRowsCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t FloatRowsCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace fedra

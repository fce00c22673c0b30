#include "mediacore/tap_cache.h"

#include <algorithm>
#include <vector>

namespace mediacore {

std::shared_ptr<const AxisTaps> padded_axis_taps(double offset, double extent, int src_size, int dst_size,
                                                 int pad_taps) {
  auto t = std::make_shared<AxisTaps>(make_axis_taps(offset, extent, src_size, dst_size));
  if (pad_taps > t->ntaps) {
    std::vector<int16_t> padded(static_cast<size_t>(dst_size) * pad_taps, 0);
    for (int x = 0; x < dst_size; ++x) {
      std::copy_n(&t->weight[static_cast<size_t>(x) * t->ntaps], t->ntaps, &padded[static_cast<size_t>(x) * pad_taps]);
    }
    t->weight = std::move(padded);
    t->ntaps = pad_taps;  // zero taps may read past src_hi: callers pad their row buffers
  }
  return t;
}

size_t table_bytes(const AxisTaps& t) {
  return sizeof(AxisTaps) + t.start.capacity() * sizeof(int32_t) + t.weight.capacity() * sizeof(int16_t);
}

std::shared_ptr<const AxisTaps> TapCache::get(double offset, double extent, int src_size, int dst_size, int pad_taps) {
  const Key key{offset, extent, src_size, dst_size, pad_taps};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++hits_;
      ages_.splice(ages_.begin(), ages_, it->second.age);
      return it->second.taps;
    }
    ++misses_;
  }
  // Built outside the lock: a big table must not stall other rooms' lookups.
  auto t = padded_axis_taps(offset, extent, src_size, dst_size, pad_taps);
  const size_t bytes = table_bytes(*t);
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes > max_bytes_ || max_tables_ == 0) return t;
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second.taps;  // another thread built it meanwhile
  evict_to(max_tables_ - 1, max_bytes_ - bytes);
  ages_.push_front(key);
  entries_.emplace(key, Entry{t, bytes, ages_.begin()});
  bytes_ += bytes;
  return t;
}

void TapCache::evict_to(size_t tables, size_t bytes) {
  while (!ages_.empty() && (entries_.size() > tables || bytes_ > bytes)) {
    auto it = entries_.find(ages_.back());
    bytes_ -= it->second.bytes;
    entries_.erase(it);
    ages_.pop_back();
    ++evictions_;
  }
}

TapCache::Stats TapCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {entries_.size(), bytes_, max_tables_, max_bytes_, hits_, misses_, evictions_};
}

void TapCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  ages_.clear();
  bytes_ = 0;
}

}  // namespace mediacore

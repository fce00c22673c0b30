// Filter tap tables kept between compose calls: tile geometry changes with the layout,
// not every frame. The cache is bounded by table count and bytes, evicting the least
// recently used table; a plan holds its tables by shared_ptr, so eviction never pulls a
// table from under a compose in flight.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "mediacore/resample.h"

namespace mediacore {

// The table for make_axis_taps' arguments, zero-padded to `pad_taps` taps when it has
// fewer (0: unpadded). Throws InvalidInput as make_axis_taps does.
std::shared_ptr<const AxisTaps> padded_axis_taps(double offset, double extent, int src_size, int dst_size,
                                                 int pad_taps);

// The memory one table holds.
size_t table_bytes(const AxisTaps& t);

class TapCache {
 public:
  struct Stats {
    size_t tables = 0, bytes = 0, max_tables = 0, max_bytes = 0;
    uint64_t hits = 0, misses = 0, evictions = 0;
  };

  TapCache(size_t max_tables, size_t max_bytes) : max_tables_(max_tables), max_bytes_(max_bytes) {}

  // padded_axis_taps, cached. A table larger than max_bytes is built and not kept.
  std::shared_ptr<const AxisTaps> get(double offset, double extent, int src_size, int dst_size, int pad_taps);
  Stats stats() const;
  void clear();

 private:
  using Key = std::tuple<double, double, int, int, int>;
  struct Entry {
    std::shared_ptr<const AxisTaps> taps;
    size_t bytes;
    std::list<Key>::iterator age;
  };
  void evict_to(size_t tables, size_t bytes);  // mu_ held

  const size_t max_tables_, max_bytes_;
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;
  std::list<Key> ages_;  // most recently used first
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace mediacore

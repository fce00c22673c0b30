// What compose calls share: the worker threads that draw bands and the tap-table cache.
// An owner (a RoomHost) makes one sized to its cores and hands it to its rooms; callers
// without one share the default context, one explicit object like any other.
#pragma once
#include <cstddef>
#include <memory>

#include "mediacore/parallel.h"
#include "mediacore/tap_cache.h"

namespace mediacore {

constexpr int kMaxThreads = 16;
constexpr size_t kDefaultTapTables = 1024;
constexpr size_t kDefaultTapBytes = size_t{64} << 20;
constexpr size_t kMaxTapTables = size_t{1} << 20;
constexpr size_t kMaxTapBytes = size_t{1} << 36;

class ComposeContext {
 public:
  // threads 1..kMaxThreads (threads - 1 workers: the calling thread draws too), started
  // by the first compose that asks for more than one thread.
  ComposeContext(int threads, size_t max_tap_tables, size_t max_tap_bytes);
  ComposeContext(const ComposeContext&) = delete;
  ComposeContext& operator=(const ComposeContext&) = delete;

  int threads() const { return workers_.size(); }
  WorkerPool& workers() { return workers_; }
  TapCache& taps() { return taps_; }
  const TapCache& taps() const { return taps_; }
  int alive_workers() const { return workers_.alive(); }
  // Joins the workers; compose refuses a closed context. Idempotent.
  void close();
  bool closed() const;

 private:
  WorkerPool workers_;
  TapCache taps_;
  mutable std::mutex mu_;
  bool closed_ = false;
};

// Made on first use: as many threads as the machine has cores (at most kMaxThreads), the
// default cache bounds.
std::shared_ptr<ComposeContext> default_compose_context();

}  // namespace mediacore

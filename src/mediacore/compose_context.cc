#include "mediacore/compose_context.h"

#include <algorithm>
#include <string>
#include <thread>

#include "mediacore/errors.h"

namespace mediacore {
namespace {

int checked_threads(int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    throw InvalidInput("threads must be 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  }
  return threads;
}

}  // namespace

ComposeContext::ComposeContext(int threads, size_t max_tap_tables, size_t max_tap_bytes)
    : workers_(checked_threads(threads)), taps_(std::min(max_tap_tables, kMaxTapTables), std::min(max_tap_bytes, kMaxTapBytes)) {}

void ComposeContext::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  workers_.close();
  taps_.clear();
}

bool ComposeContext::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

std::shared_ptr<ComposeContext> default_compose_context() {
  static const std::shared_ptr<ComposeContext> context = std::make_shared<ComposeContext>(
      std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxThreads), kDefaultTapTables,
      kDefaultTapBytes);
  return context;
}

}  // namespace mediacore

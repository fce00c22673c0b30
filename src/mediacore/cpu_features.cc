#include "mediacore/cpu_features.h"

#include <atomic>

namespace mediacore {
namespace {

int detect() {
  int flags = 0;
#if defined(MEDIACORE_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) flags |= kCpuAVX2;
#endif
  return flags;
}

std::atomic<int> g_mask{~0};

}  // namespace

int cpu_flags() {
  static const int detected = detect();
  return detected & g_mask.load(std::memory_order_relaxed);
}

void set_cpu_mask(int mask) { g_mask.store(mask, std::memory_order_relaxed); }
int cpu_mask() { return g_mask.load(std::memory_order_relaxed); }

}  // namespace mediacore

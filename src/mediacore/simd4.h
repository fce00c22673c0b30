// Four floats in one SSE register, through the GCC/Clang vector extension: plain C++
// operators, no intrinsics, so it builds for baseline x86-64 (and any other target)
// without a dispatch table. For short reductions the compiler will not vectorise itself.
#pragma once
#include <cstring>

namespace mediacore {

typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
  v4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

}  // namespace mediacore

#include "mediacore/scale_rows.h"

#include "mediacore/cpu_features.h"

namespace mediacore {

void FilterRowsRange_C(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                       int begin, int end) {
  for (int i = begin; i < end; ++i) {
    int32_t acc = 0;
    for (int k = 0; k < ntaps; ++k) acc += weight[k] * rows[k][i];
    dst[i] = static_cast<uint16_t>((acc + (1 << 7)) >> 8);
  }
}

void FilterRows_C(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                  int width) {
  FilterRowsRange_C(rows, weight, ntaps, dst, 0, width);
}

void FilterCols_C(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                  uint8_t* dst, int width) {
  for (int x = 0; x < width; ++x) {
    const uint16_t* s = src + start[x];
    const int16_t* w = weight + x * ntaps;
    int32_t acc = 0;
    for (int k = 0; k < ntaps; ++k) acc += w[k] * s[k];
    const int32_t v = (acc + (1 << 19)) >> 20;
    dst[x] = static_cast<uint8_t>(v > 255 ? 255 : v);
  }
}

ScaleKernels scale_kernels() {
  ScaleKernels k{FilterRows_C, FilterCols_C, 0, nullptr, "c"};
#ifdef MEDIACORE_HAVE_AVX2
  if (cpu_flags() & kCpuAVX2) k = {FilterRows_AVX2, FilterCols_AVX2, kColsTapsAVX2, FilterCols2_AVX2, "avx2"};
#endif
  return k;
}

}  // namespace mediacore

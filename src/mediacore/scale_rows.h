// Row functions of the separable resize (libyuv style): each processes one output row.
// A plain C++ reference (_C) and optimised variants; scale_kernels() picks them once
// per CPU-mask value, so loops carry no feature checks.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mediacore {

// Vertical pass: dst[i] = round(sum_k weight[k] * rows[k][i] / 2^8), i < width.
// Output is Q6 (0..16320), kept at 16 bits for the horizontal pass.
using FilterRowsFn = void (*)(const uint8_t* const* rows, const int16_t* weight, int ntaps,
                              uint16_t* dst, int width);

// Horizontal pass: dst[x] = round(sum_k weight[x*ntaps+k] * src[start[x]+k] / 2^20).
// src must be readable for kColsPadding elements past start[x] (vector loads).
using FilterColsFn = void (*)(const uint16_t* src, const int32_t* start, const int16_t* weight,
                              int ntaps, uint8_t* dst, int width);

void FilterRows_C(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                  int width);
// The C row over samples [begin, end) only: the reference, and the optimised rows' tails.
void FilterRowsRange_C(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                       int begin, int end);
void FilterCols_C(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                  uint8_t* dst, int width);

constexpr int kColsPadding = 16;

#ifdef MEDIACORE_HAVE_AVX2
// Takes tables padded to exactly this many taps (zero weights); others go to the C row.
constexpr int kColsTapsAVX2 = 8;
void FilterRows_AVX2(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                     int width);
void FilterCols_AVX2(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                     uint8_t* dst, int width);
// 2-tap tables (bilinear, so any upscale) whose 8 neighbouring outputs start within 8
// samples (AxisTaps::spread8 <= 7): one window load and a lane permute per 8 pixels.
void FilterCols2_AVX2(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                      uint8_t* dst, int width);
#endif

struct ScaleKernels {
  FilterRowsFn filter_rows;
  FilterColsFn filter_cols;
  int cols_taps;  // tap count filter_cols wants tables padded to (0: any)
  FilterColsFn filter_cols_2tap;  // for 2-tap tables with spread8 <= 7; null: use filter_cols
  const char* name;
};

// The kernels for the current CPU flags (see cpu_features.h).
ScaleKernels scale_kernels();

}  // namespace mediacore

// Filter tap tables for one axis of a resize: area (box) averaging when shrinking,
// bilinear when growing. Scaling is separable, so a resize is two of these tables.
#pragma once
#include <cstdint>
#include <vector>

namespace mediacore {

// Weights are Q14 (sum exactly 1 << 14 per output sample), all non-negative.
constexpr int kWeightBits = 14;
constexpr int kWeightOne = 1 << kWeightBits;

// The largest source or destination size along one axis (plane.h's kMaxDimension).
constexpr int kMaxAxisSize = 16384;

struct AxisTaps {
  int dst_size = 0;
  int ntaps = 0;               // taps per output sample (zero-padded to the same count)
  int src_lo = 0, src_hi = 0;  // source samples [src_lo, src_hi) any tap may read
  std::vector<int32_t> start;  // first source index of each output sample's taps
  std::vector<int16_t> weight; // dst_size x ntaps
  bool identity = false;       // 1:1 with integer offset: a plain copy
  int spread8 = 0;             // max start[x + 7] - start[x]: how far 8 neighbours reach
};

// Maps source interval [offset, offset + extent) onto dst_size output samples.
// The interval must be finite and lie inside [0, src_size], starting before src_size;
// sizes are 1..kMaxAxisSize (InvalidInput otherwise). Deterministic; the numpy reference in
// tests/reference.py states the same weights in floating point.
AxisTaps make_axis_taps(double offset, double extent, int src_size, int dst_size);

}  // namespace mediacore

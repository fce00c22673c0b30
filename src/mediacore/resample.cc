#include "mediacore/resample.h"

#include <algorithm>
#include <cmath>

#include "mediacore/errors.h"

namespace mediacore {
namespace {

// Quantise float weights to Q14 so that they sum exactly to one; the rounding
// remainder goes to the largest tap, where it matters least.
void quantise(const double* w, int n, int16_t* out) {
  int sum = 0;
  int largest = 0;
  for (int k = 0; k < n; ++k) {
    out[k] = static_cast<int16_t>(std::lround(w[k] * kWeightOne));
    sum += out[k];
    if (w[k] > w[largest]) largest = k;
  }
  const int fixed = out[largest] + (kWeightOne - sum);
  if (fixed >= 0 && fixed <= kWeightOne) {
    out[largest] = static_cast<int16_t>(fixed);
    return;
  }
  // Many small taps (a 300:1 shrink) can round off by more than the largest tap holds;
  // a negative weight would wrap in the C rows and saturate in the SIMD ones. Round the
  // running sum instead: every weight stays in 0..kWeightOne and they sum exactly to one.
  double total = 0;
  for (int k = 0; k < n; ++k) total += w[k];
  if (!(total > 0)) total = 1;  // cannot happen for a valid interval; never divide by zero
  double cum = 0;
  int prev = 0;
  for (int k = 0; k < n; ++k) {
    cum += w[k];
    const int next = k + 1 == n ? kWeightOne : static_cast<int>(std::lround(cum / total * kWeightOne));
    out[k] = static_cast<int16_t>(std::clamp(next, prev, kWeightOne) - prev);
    prev += out[k];
  }
}

}  // namespace

AxisTaps make_axis_taps(double offset, double extent, int src_size, int dst_size) {
  // Written so that NaN fails every test; the offset lies strictly inside the source, so
  // the first tap (floor(offset)) is a real sample even for a sliver at the bottom edge.
  if (!(dst_size > 0 && dst_size <= kMaxAxisSize && src_size > 0 && src_size <= kMaxAxisSize &&
        std::isfinite(offset) && std::isfinite(extent) && extent > 0 && offset >= 0 && offset < src_size &&
        offset + extent <= src_size + 1e-9)) {
    throw InvalidInput("source interval [" + std::to_string(offset) + ", " +
                       std::to_string(offset + extent) + ") must lie inside [0, " +
                       std::to_string(src_size) + "] and map to a positive size, got " +
                       std::to_string(dst_size));
  }
  AxisTaps t;
  t.dst_size = dst_size;
  t.src_lo = std::min(src_size - 1, static_cast<int>(std::floor(offset)));
  t.src_hi = std::min(src_size, static_cast<int>(std::ceil(offset + extent - 1e-9)));
  t.src_hi = std::max(t.src_hi, t.src_lo + 1);
  const int avail = t.src_hi - t.src_lo;
  const double scale = extent / dst_size;

  t.identity = scale == 1.0 && offset == std::floor(offset);
  // An area window of width `scale` touches at most ceil(scale) + 1 pixels.
  const int ntaps = std::min(avail, scale > 1.0 ? static_cast<int>(std::ceil(scale)) + 1 : 2);
  t.ntaps = ntaps;
  t.start.resize(dst_size);
  t.weight.assign(static_cast<size_t>(dst_size) * ntaps, 0);
  std::vector<double> w(ntaps + 2);
  for (int x = 0; x < dst_size; ++x) {
    int first = 0, count = 0;
    std::fill(w.begin(), w.end(), 0.0);
    if (scale > 1.0) {
      // Area: each source pixel weighs by how much of it the output pixel covers.
      const double a = offset + x * scale, b = offset + (x + 1) * scale;
      first = std::max(t.src_lo, static_cast<int>(std::floor(a)));
      const int last = std::min(t.src_hi, static_cast<int>(std::ceil(b)));
      count = std::min(last - first, ntaps);
      for (int k = 0; k < count; ++k) {
        const int i = first + k;
        w[k] = std::max(0.0, std::min<double>(b, i + 1) - std::max<double>(a, i)) / scale;
      }
    } else {
      // Bilinear between the two nearest pixel centres, clamped to the interval.
      const double c = offset + (x + 0.5) * scale - 0.5;
      first = static_cast<int>(std::floor(c));
      double f = c - first;
      if (first < t.src_lo) { first = t.src_lo; f = 0; }
      if (first >= t.src_hi - 1) { first = t.src_hi - 1; f = 0; }
      count = first + 1 < t.src_hi ? 2 : 1;
      w[0] = 1.0 - f;
      w[1] = count == 2 ? f : 0.0;
    }
    // Pad to ntaps with zero weights, shifting the window left if it would run past
    // src_hi, so every tap reads a valid sample.
    const int s = std::min(first, t.src_hi - ntaps);
    if (s < first) std::copy_backward(w.begin(), w.begin() + count, w.begin() + (first - s) + count);
    for (int k = 0; k < first - s; ++k) w[k] = 0.0;
    t.start[x] = s;
    quantise(w.data(), ntaps, &t.weight[static_cast<size_t>(x) * ntaps]);
  }
  for (int x = 0; x + 7 < dst_size; ++x) t.spread8 = std::max(t.spread8, t.start[x + 7] - t.start[x]);
  return t;
}

}  // namespace mediacore

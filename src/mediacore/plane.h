// Views of 8-bit image planes owned by the caller (PyAV planes, numpy arrays).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mediacore {

// The largest width or height of any plane, canvas, source or rect the core accepts
// (8K video is 7680x4320): with it every pixel coordinate and sum of two fits an int.
constexpr int kMaxDimension = 16384;

// Strides are ptrdiff_t and may exceed the width: PyAV pads its lines.
struct Plane {
  uint8_t* data = nullptr;
  ptrdiff_t stride = 0;
  int width = 0;
  int height = 0;
  uint8_t* row(int y) const { return data + static_cast<ptrdiff_t>(y) * stride; }
};

struct ConstPlane {
  const uint8_t* data = nullptr;
  ptrdiff_t stride = 0;
  int width = 0;
  int height = 0;
  const uint8_t* row(int y) const { return data + static_cast<ptrdiff_t>(y) * stride; }
};

// One yuv420p picture: chroma planes are ceil(width/2) x ceil(height/2).
struct I420 {
  Plane y, u, v;
};
struct ConstI420 {
  ConstPlane y, u, v;
};

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

// A source region in fractional pixels (a crop for "fill" mode).
struct RectF {
  double x = 0, y = 0, w = 0, h = 0;
};

// Output rows [lo, hi) a kernel may write: compose splits the canvas into bands that run
// in parallel. Each kernel still validates its whole argument whatever the band, so an
// empty band is a pure argument check.
struct Band {
  int lo = 0, hi = 1 << 30;
  Band half() const { return {lo / 2, hi >= (1 << 30) ? hi : hi / 2}; }
};

}  // namespace mediacore

#include "mediacore/compositor.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "mediacore/errors.h"
#include "mediacore/resample.h"
#include "mediacore/scale_rows.h"

namespace mediacore {
namespace {

std::string str(const Rect& r) {
  return "(x=" + std::to_string(r.x) + ", y=" + std::to_string(r.y) + ", w=" + std::to_string(r.w) +
         ", h=" + std::to_string(r.h) + ")";
}

void check_rect_inside(const Rect& r, int width, int height, const char* what) {
  if (r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x + r.w > width || r.y + r.h > height) {
    throw InvalidInput(std::string(what) + " " + str(r) + " is empty or outside the " +
                       std::to_string(width) + "x" + std::to_string(height) + " canvas");
  }
}

void check_even(const Rect& r, const char* what) {
  if ((r.x | r.y | r.w | r.h) & 1) {
    throw InvalidInput(std::string(what) + " " + str(r) + " must have even x, y, width and height on an I420 canvas");
  }
}

Rect half(const Rect& r) { return {r.x / 2, r.y / 2, r.w / 2, r.h / 2}; }

template <class P>
void check_plane(const P& p, int width, int height, const char* what) {
  if (p.width != width || p.height != height) {
    throw InvalidInput(std::string(what) + " is " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                       ", expected " + std::to_string(width) + "x" + std::to_string(height));
  }
  if (p.stride < p.width) {
    throw InvalidInput(std::string(what) + " stride " + std::to_string(p.stride) + " is below its width " +
                       std::to_string(p.width));
  }
}

}  // namespace

void check_canvas(const I420& c) {
  if (c.y.width <= 0 || c.y.height <= 0 || (c.y.width & 1) || (c.y.height & 1)) {
    throw InvalidInput("canvas must have a positive even width and height, got " + std::to_string(c.y.width) +
                       "x" + std::to_string(c.y.height));
  }
  check_plane(c.y, c.y.width, c.y.height, "canvas Y plane");
  check_plane(c.u, c.y.width / 2, c.y.height / 2, "canvas U plane");
  check_plane(c.v, c.y.width / 2, c.y.height / 2, "canvas V plane");
}

void check_source(const ConstI420& s, const char* what) {
  if (s.y.width <= 0 || s.y.height <= 0) throw InvalidInput(std::string(what) + " is empty");
  const int cw = (s.y.width + 1) / 2, ch = (s.y.height + 1) / 2;
  check_plane(s.y, s.y.width, s.y.height, (std::string(what) + " Y plane").c_str());
  check_plane(s.u, cw, ch, (std::string(what) + " U plane").c_str());
  check_plane(s.v, cw, ch, (std::string(what) + " V plane").c_str());
}

void scale_plane(const ConstPlane& src, const RectF& crop, const Plane& dst, const Rect& r, Band band) {
  check_rect_inside(r, dst.width, dst.height, "destination rect");
  const ScaleKernels k = scale_kernels();
  // Growing (2 taps, neighbours close together) has its own fast row; otherwise the
  // general one with the tap count it wants.
  auto hp = k.filter_cols_2tap ? cached_axis_taps(crop.x, crop.w, src.width, r.w, 2) : nullptr;
  FilterColsFn filter_cols = k.filter_cols_2tap;
  if (!hp || hp->ntaps != 2 || hp->spread8 > 7) {
    hp = cached_axis_taps(crop.x, crop.w, src.width, r.w, k.cols_taps);
    filter_cols = k.filter_cols;
  }
  const auto vp = cached_axis_taps(crop.y, crop.h, src.height, r.h, 0);
  const AxisTaps &h = *hp, &v = *vp;
  const int y0 = std::max(0, band.lo - r.y), y1 = std::min(r.h, band.hi - r.y);
  if (y0 >= y1) return;
  if (h.identity && v.identity) {  // cheap path first: same size, integer offset
    const int sx = static_cast<int>(crop.x), sy = static_cast<int>(crop.y);
    for (int y = y0; y < y1; ++y) std::memcpy(dst.row(r.y + y) + r.x, src.row(sy + y) + sx, r.w);
    return;
  }
  const int span = h.src_hi - h.src_lo;
  // Padded: vector loads (and zero-weight padding taps) read past the last real tap.
  thread_local std::vector<uint16_t> tmp;
  tmp.assign(span + h.ntaps + kColsPadding, 0);
  thread_local std::vector<int32_t> hstart;
  hstart.assign(h.start.begin(), h.start.end());
  for (auto& s : hstart) s -= h.src_lo;
  thread_local std::vector<const uint8_t*> rows;
  rows.resize(v.ntaps);
  for (int y = y0; y < y1; ++y) {
    for (int t = 0; t < v.ntaps; ++t) rows[t] = src.row(v.start[y] + t) + h.src_lo;
    k.filter_rows(rows.data(), &v.weight[static_cast<size_t>(y) * v.ntaps], v.ntaps, tmp.data(), span);
    filter_cols(tmp.data(), hstart.data(), h.weight.data(), h.ntaps, dst.row(r.y + y) + r.x, r.w);
  }
}

void fill_plane(const Plane& dst, const Rect& r, uint8_t value, Band band) {
  check_rect_inside(r, dst.width, dst.height, "fill rect");
  const int y0 = std::max(r.y, band.lo), y1 = std::min(r.y + r.h, band.hi);
  for (int y = y0; y < y1; ++y) std::memset(dst.row(y) + r.x, value, r.w);
}

void scale_i420(const ConstI420& src, const RectF& crop, const I420& dst, const Rect& r, Band band) {
  check_even(r, "destination rect");
  scale_plane(src.y, crop, dst.y, r, band);
  const RectF c2{crop.x / 2, crop.y / 2, crop.w / 2, crop.h / 2};
  scale_plane(src.u, c2, dst.u, half(r), band.half());
  scale_plane(src.v, c2, dst.v, half(r), band.half());
}

void fill_i420(const I420& dst, const Rect& r, Yuv c, Band band) {
  check_even(r, "fill rect");
  fill_plane(dst.y, r, c.y, band);
  fill_plane(dst.u, half(r), c.u, band.half());
  fill_plane(dst.v, half(r), c.v, band.half());
}

void border_i420(const I420& dst, const Rect& r, int t, Yuv c, Band band) {
  check_even(r, "border rect");
  check_rect_inside(r, dst.y.width, dst.y.height, "border rect");
  if (t <= 0) throw InvalidInput("border thickness must be positive, got " + std::to_string(t));
  auto frame = [](const Plane& p, const Rect& q, int th, uint8_t value, Band b) {
    th = std::min({th, (q.w + 1) / 2, (q.h + 1) / 2});
    fill_plane(p, {q.x, q.y, q.w, th}, value, b);
    fill_plane(p, {q.x, q.y + q.h - th, q.w, th}, value, b);
    fill_plane(p, {q.x, q.y, th, q.h}, value, b);
    fill_plane(p, {q.x + q.w - th, q.y, th, q.h}, value, b);
  };
  frame(dst.y, r, t, c.y, band);
  frame(dst.u, half(r), (t + 1) / 2, c.u, band.half());
  frame(dst.v, half(r), (t + 1) / 2, c.v, band.half());
}

namespace {

// round(v / 255) for v in [0, 255*255], exactly.
inline uint8_t div255(uint32_t v) { return static_cast<uint8_t>((v + 128 + ((v + 128) >> 8)) >> 8); }

void blend_plane(const Plane& dst, const ConstPlane& src, int x, int y, int sub, const ConstPlane& alpha, Band band) {
  const int j0 = std::max(0, band.lo - y), j1 = std::min(src.height, band.hi - y);
  for (int j = j0; j < j1; ++j) {
    uint8_t* d = dst.row(y + j) + x;
    const uint8_t* s = src.row(j);
    if (sub == 1) {
      const uint8_t* a = alpha.row(j);
      for (int i = 0; i < src.width; ++i) d[i] = div255(a[i] * s[i] + (255 - a[i]) * d[i]);
    } else {
      // Chroma: alpha is the mean of the 2x2 luma alphas it covers (edge samples repeat).
      const uint8_t* a0 = alpha.row(2 * j);
      const uint8_t* a1 = alpha.row(std::min(2 * j + 1, alpha.height - 1));
      for (int i = 0; i < src.width; ++i) {
        const int i0 = 2 * i, i1 = std::min(2 * i + 1, alpha.width - 1);
        const uint32_t a = (a0[i0] + a0[i1] + a1[i0] + a1[i1] + 2) >> 2;
        d[i] = div255(a * s[i] + (255 - a) * d[i]);
      }
    }
  }
}

}  // namespace

void blend_i420(const I420& dst, const ConstI420& ov, const ConstPlane& alpha, int x, int y, Band band) {
  check_source(ov, "overlay");
  check_plane(alpha, ov.y.width, ov.y.height, "overlay alpha plane");
  const Rect r{x, y, ov.y.width, ov.y.height};
  check_rect_inside(r, dst.y.width, dst.y.height, "overlay rect");
  if ((x | y) & 1) throw InvalidInput("overlay position " + str(r) + " must have even x and y");
  blend_plane(dst.y, ov.y, x, y, 1, alpha, band);
  blend_plane(dst.u, ov.u, x / 2, y / 2, 2, alpha, band.half());
  blend_plane(dst.v, ov.v, x / 2, y / 2, 2, alpha, band.half());
}

}  // namespace mediacore

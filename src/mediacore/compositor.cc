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

void scale_plane(const ConstPlane& src, const RectF& crop, const Plane& dst, const Rect& r) {
  check_rect_inside(r, dst.width, dst.height, "destination rect");
  const AxisTaps h = make_axis_taps(crop.x, crop.w, src.width, r.w);
  const AxisTaps v = make_axis_taps(crop.y, crop.h, src.height, r.h);
  if (h.identity && v.identity) {  // cheap path first: same size, integer offset
    for (int y = 0; y < r.h; ++y) {
      std::memcpy(dst.row(r.y + y) + r.x, src.row(v.start[y]) + h.start[0], r.w);
    }
    return;
  }
  const ScaleKernels k = scale_kernels();
  const int span = h.src_hi - h.src_lo;
  std::vector<uint16_t> tmp(span + kColsPadding, 0);  // vector loads read past the last tap
  std::vector<int32_t> hstart(h.start);
  for (auto& s : hstart) s -= h.src_lo;
  // Repack horizontal weights to the tap count the optimised row wants, zero-padded.
  const int16_t* hweight = h.weight.data();
  int hntaps = h.ntaps;
  std::vector<int16_t> padded;
  if (k.cols_taps && h.ntaps < k.cols_taps) {
    padded.assign(static_cast<size_t>(r.w) * k.cols_taps, 0);
    for (int x = 0; x < r.w; ++x) {
      std::copy_n(&h.weight[static_cast<size_t>(x) * h.ntaps], h.ntaps, &padded[static_cast<size_t>(x) * k.cols_taps]);
    }
    hweight = padded.data();
    hntaps = k.cols_taps;
  }
  std::vector<const uint8_t*> rows(v.ntaps);
  for (int y = 0; y < r.h; ++y) {
    for (int t = 0; t < v.ntaps; ++t) rows[t] = src.row(v.start[y] + t) + h.src_lo;
    k.filter_rows(rows.data(), &v.weight[static_cast<size_t>(y) * v.ntaps], v.ntaps, tmp.data(), span);
    k.filter_cols(tmp.data(), hstart.data(), hweight, hntaps, dst.row(r.y + y) + r.x, r.w);
  }
}

void fill_plane(const Plane& dst, const Rect& r, uint8_t value) {
  check_rect_inside(r, dst.width, dst.height, "fill rect");
  for (int y = 0; y < r.h; ++y) std::memset(dst.row(r.y + y) + r.x, value, r.w);
}

void scale_i420(const ConstI420& src, const RectF& crop, const I420& dst, const Rect& r) {
  check_even(r, "destination rect");
  scale_plane(src.y, crop, dst.y, r);
  const RectF c2{crop.x / 2, crop.y / 2, crop.w / 2, crop.h / 2};
  scale_plane(src.u, c2, dst.u, half(r));
  scale_plane(src.v, c2, dst.v, half(r));
}

void fill_i420(const I420& dst, const Rect& r, Yuv c) {
  check_even(r, "fill rect");
  fill_plane(dst.y, r, c.y);
  fill_plane(dst.u, half(r), c.u);
  fill_plane(dst.v, half(r), c.v);
}

void border_i420(const I420& dst, const Rect& r, int t, Yuv c) {
  check_even(r, "border rect");
  check_rect_inside(r, dst.y.width, dst.y.height, "border rect");
  if (t <= 0) throw InvalidInput("border thickness must be positive, got " + std::to_string(t));
  auto frame = [](const Plane& p, const Rect& q, int th, uint8_t value) {
    th = std::min({th, (q.w + 1) / 2, (q.h + 1) / 2});
    fill_plane(p, {q.x, q.y, q.w, th}, value);
    fill_plane(p, {q.x, q.y + q.h - th, q.w, th}, value);
    fill_plane(p, {q.x, q.y, th, q.h}, value);
    fill_plane(p, {q.x + q.w - th, q.y, th, q.h}, value);
  };
  frame(dst.y, r, t, c.y);
  frame(dst.u, half(r), (t + 1) / 2, c.u);
  frame(dst.v, half(r), (t + 1) / 2, c.v);
}

namespace {

// round(v / 255) for v in [0, 255*255], exactly.
inline uint8_t div255(uint32_t v) { return static_cast<uint8_t>((v + 128 + ((v + 128) >> 8)) >> 8); }

void blend_plane(const Plane& dst, const ConstPlane& src, int x, int y, int sub, const ConstPlane& alpha) {
  for (int j = 0; j < src.height; ++j) {
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

void blend_i420(const I420& dst, const ConstI420& ov, const ConstPlane& alpha, int x, int y) {
  check_source(ov, "overlay");
  check_plane(alpha, ov.y.width, ov.y.height, "overlay alpha plane");
  const Rect r{x, y, ov.y.width, ov.y.height};
  check_rect_inside(r, dst.y.width, dst.y.height, "overlay rect");
  if ((x | y) & 1) throw InvalidInput("overlay position " + str(r) + " must have even x and y");
  blend_plane(dst.y, ov.y, x, y, 1, alpha);
  blend_plane(dst.u, ov.u, x / 2, y / 2, 2, alpha);
  blend_plane(dst.v, ov.v, x / 2, y / 2, 2, alpha);
}

}  // namespace mediacore

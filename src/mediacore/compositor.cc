#include "mediacore/compositor.h"

#include <algorithm>
#include <cstring>

namespace mediacore {

ScalePlan make_scale_plan(const RectF& crop, int src_w, int src_h, const Rect& r, const ScaleKernels& k,
                          TapCache* cache) {
  auto taps = [cache](double offset, double extent, int src, int dst, int pad) {
    return cache ? cache->get(offset, extent, src, dst, pad) : padded_axis_taps(offset, extent, src, dst, pad);
  };
  ScalePlan p;
  p.rect = r;
  p.filter_rows = k.filter_rows;
  // Growing (2 taps, neighbours close together) has its own fast row; otherwise the
  // general one with the tap count it wants.
  p.h = k.filter_cols_2tap ? taps(crop.x, crop.w, src_w, r.w, 2) : nullptr;
  p.filter_cols = k.filter_cols_2tap;
  if (!p.h || p.h->ntaps != 2 || p.h->spread8 > 7) {
    p.h = taps(crop.x, crop.w, src_w, r.w, k.cols_taps);
    p.filter_cols = k.filter_cols;
  }
  p.v = taps(crop.y, crop.h, src_h, r.h, 0);
  p.hstart.assign(p.h->start.begin(), p.h->start.end());
  for (auto& s : p.hstart) s -= p.h->src_lo;
  p.copy_x = p.h->src_lo;
  p.copy_y = p.v->src_lo;
  return p;
}

void scale_plane_rows(const ScalePlan& p, const ConstPlane& src, const Plane& dst, Band band) {
  const Rect& r = p.rect;
  const AxisTaps &h = *p.h, &v = *p.v;
  const int y0 = std::max(0, band.lo - r.y), y1 = std::min(r.h, band.hi - r.y);
  if (y0 >= y1) return;
  if (h.identity && v.identity) {  // cheap path first: same size, integer offset
    for (int y = y0; y < y1; ++y) std::memcpy(dst.row(r.y + y) + r.x, src.row(p.copy_y + y) + p.copy_x, r.w);
    return;
  }
  const int span = h.src_hi - h.src_lo;
  // Padded: vector loads (and zero-weight padding taps) read past the last real tap.
  thread_local std::vector<uint16_t> tmp;
  tmp.assign(static_cast<size_t>(span) + h.ntaps + kColsPadding, 0);
  thread_local std::vector<const uint8_t*> rows;
  rows.resize(v.ntaps);
  for (int y = y0; y < y1; ++y) {
    for (int t = 0; t < v.ntaps; ++t) rows[t] = src.row(v.start[y] + t) + h.src_lo;
    p.filter_rows(rows.data(), &v.weight[static_cast<size_t>(y) * v.ntaps], v.ntaps, tmp.data(), span);
    p.filter_cols(tmp.data(), p.hstart.data(), h.weight.data(), h.ntaps, dst.row(r.y + y) + r.x, r.w);
  }
}

void fill_plane_rows(const Plane& dst, const Rect& r, uint8_t value, Band band) {
  const int y0 = std::max(r.y, band.lo), y1 = std::min(r.y + r.h, band.hi);
  for (int y = y0; y < y1; ++y) std::memset(dst.row(y) + r.x, value, r.w);
}

void border_plane_rows(const Plane& p, const Rect& q, int th, uint8_t value, Band b) {
  th = std::min({th, (q.w + 1) / 2, (q.h + 1) / 2});
  fill_plane_rows(p, {q.x, q.y, q.w, th}, value, b);
  fill_plane_rows(p, {q.x, q.y + q.h - th, q.w, th}, value, b);
  fill_plane_rows(p, {q.x, q.y, th, q.h}, value, b);
  fill_plane_rows(p, {q.x + q.w - th, q.y, th, q.h}, value, b);
}

namespace {

// round(v / 255) for v in [0, 255*255], exactly.
inline uint8_t div255(uint32_t v) { return static_cast<uint8_t>((v + 128 + ((v + 128) >> 8)) >> 8); }

}  // namespace

void blend_plane_rows(const Plane& dst, const ConstPlane& src, int x, int y, int sub, const ConstPlane& alpha,
                      Band band) {
  const int j0 = std::max(0, band.lo - y), j1 = std::min(src.height, band.hi - y);
  for (int j = j0; j < j1; ++j) {
    uint8_t* d = dst.row(y + j) + x;
    const uint8_t* s = src.row(j);
    if (sub == 1) {
      const uint8_t* a = alpha.row(j);
      for (int i = 0; i < src.width; ++i) d[i] = div255(a[i] * s[i] + (255 - a[i]) * d[i]);
    } else {
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

}  // namespace mediacore

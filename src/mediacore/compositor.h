// Compositing kernels on I420 canvases: fused scale+place, fills, borders, overlays.
// These trust their arguments: compose.h validates an op list once at the door (sizes,
// rectangles inside their planes, finite crops) and builds the scale plans they run.
// Each kernel writes only the output rows inside `band`, so bands can run in parallel.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "mediacore/plane.h"
#include "mediacore/resample.h"
#include "mediacore/scale_rows.h"
#include "mediacore/tap_cache.h"

namespace mediacore {

struct Yuv {
  uint8_t y = 16, u = 128, v = 128;
};

// Everything one plane's scale needs, built once per op (tap tables come from the
// compose context's cache, so they are computed when the layout changes, not per frame):
// the filter tables, the row functions picked for the CPU, the destination rect.
struct ScalePlan {
  Rect rect;                              // destination rect, inside the destination plane
  std::shared_ptr<const AxisTaps> h, v;   // horizontal (padded for filter_cols) and vertical taps
  std::vector<int32_t> hstart;            // h->start relative to h->src_lo
  FilterRowsFn filter_rows = nullptr;
  FilterColsFn filter_cols = nullptr;
  int copy_x = 0, copy_y = 0;             // the source offset when h and v are both identity
};

// Builds the plan for scaling source region `crop` of a src_w x src_h plane into `rect`,
// its tables from `cache` (nullptr: built for this plan only). Throws InvalidInput unless
// crop is finite and inside the source (make_axis_taps).
ScalePlan make_scale_plan(const RectF& crop, int src_w, int src_h, const Rect& rect, const ScaleKernels& k,
                          TapCache* cache);

// Area filter when shrinking, bilinear when growing, a row copy when 1:1.
void scale_plane_rows(const ScalePlan& plan, const ConstPlane& src, const Plane& dst, Band band);
void fill_plane_rows(const Plane& dst, const Rect& rect, uint8_t value, Band band);
// A frame of `thickness` pixels drawn inside rect (clamped to half the rect).
void border_plane_rows(const Plane& dst, const Rect& rect, int thickness, uint8_t value, Band band);
// dst = (a*src + (255-a)*dst) / 255, rounded, at (x, y) of dst. sub = 2 for chroma: alpha is
// then the 2x2 mean of the luma alpha it covers (edge samples repeat).
void blend_plane_rows(const Plane& dst, const ConstPlane& src, int x, int y, int sub, const ConstPlane& alpha,
                      Band band);

}  // namespace mediacore

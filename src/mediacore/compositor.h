// Compositing kernels on I420 canvases: fused scale+place, fills, borders, overlays.
// All functions validate their arguments and throw InvalidInput before touching memory.
#pragma once
#include <cstdint>
#include <vector>

#include "mediacore/plane.h"

namespace mediacore {

struct Yuv {
  uint8_t y = 16, u = 128, v = 128;
};

// Scale the source region `crop` of one plane straight into dst_rect of `dst`:
// area filter when shrinking, bilinear when growing, a row copy when 1:1.
void scale_plane(const ConstPlane& src, const RectF& crop, const Plane& dst, const Rect& dst_rect, Band band = {});

void fill_plane(const Plane& dst, const Rect& rect, uint8_t value, Band band = {});

// I420 versions take luma coordinates; the canvas and rect must be even-aligned so the
// chroma rect is exactly half. Chroma is scaled at half resolution from crop / 2.
void scale_i420(const ConstI420& src, const RectF& crop, const I420& dst, const Rect& dst_rect, Band band = {});
void fill_i420(const I420& dst, const Rect& rect, Yuv color, Band band = {});
// A frame of `thickness` luma pixels drawn inside rect (active-speaker highlight).
void border_i420(const I420& dst, const Rect& rect, int thickness, Yuv color, Band band = {});
// dst = (a*overlay + (255-a)*dst) / 255, rounded; chroma alpha is the 2x2 mean of alpha.
void blend_i420(const I420& dst, const ConstI420& overlay, const ConstPlane& alpha, int x, int y,
                Band band = {});

// Checks shared by the bindings: the canvas is a well-formed even-sized I420 picture.
void check_canvas(const I420& canvas);
void check_source(const ConstI420& src, const char* what);

}  // namespace mediacore

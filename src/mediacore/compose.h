// The compose executor: a display list of fill/scale/border/blend ops on one I420 canvas.
// compose() validates the whole list once (every rect, crop, size and buffer), builds the
// scale plans, then runs the ops band by band on a compose context's workers (its tap
// cache keeps the filter tables between calls); the kernels it calls
// (compositor.h) trust what it checked. A refused list draws nothing.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "mediacore/compose_context.h"
#include "mediacore/compositor.h"
#include "mediacore/plane.h"

namespace mediacore {

// Ops in luma coordinates; the canvas and every rect must be even-aligned so the chroma
// rect is exactly half. Chroma is scaled at half resolution from crop / 2.
struct FillOp {
  Rect rect;
  Yuv color;
};
struct ScaleOp {
  ConstI420 src;
  RectF crop;  // source region in fractional luma pixels, inside the source
  Rect rect;
};
struct BorderOp {
  Rect rect;
  int thickness;  // >= 1 luma pixels, clamped to half the rect (a thicker frame fills it)
  Yuv color;
};
struct BlendOp {
  ConstI420 overlay;
  ConstPlane alpha;  // the overlay's luma size
  int x, y;          // even, the overlay inside the canvas
};
using ComposeOp = std::variant<FillOp, ScaleOp, BorderOp, BlendOp>;

// The canvas is a well-formed even-sized I420 picture of at most kMaxDimension a side.
void check_canvas(const I420& canvas);
// A source picture: chroma planes ceil(w/2) x ceil(h/2), at most kMaxDimension a side.
void check_source(const ConstI420& src, const std::string& what);

// Runs `ops` in order on `canvas` in horizontal bands for `threads` (1..kMaxThreads)
// threads: the calling one and up to threads - 1 of the context's workers, as many as it
// has. The result is the same bytes whatever the thread count or context. Throws
// InvalidInput naming the op ("compose op 3 (scale): ...") before anything is drawn, or
// when the context is closed.
void compose(ComposeContext& context, const I420& canvas, const std::vector<ComposeOp>& ops, int threads);

// One plane: scale src region `crop` into `rect` of dst. Validated like a compose op.
void scale_plane(const ConstPlane& src, const RectF& crop, const Plane& dst, const Rect& rect);

}  // namespace mediacore

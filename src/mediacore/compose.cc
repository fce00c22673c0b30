#include "mediacore/compose.h"

#include <algorithm>
#include <cmath>

#include "mediacore/errors.h"

namespace mediacore {
namespace {

std::string str(const Rect& r) {
  return "(x=" + std::to_string(r.x) + ", y=" + std::to_string(r.y) + ", w=" + std::to_string(r.w) +
         ", h=" + std::to_string(r.h) + ")";
}

// 64-bit sums: x = 2**31 - 2 must not wrap around into the canvas.
void check_rect_inside(const Rect& r, int width, int height, const std::string& what) {
  const int64_t x1 = int64_t{r.x} + r.w, y1 = int64_t{r.y} + r.h;
  if (r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || x1 > width || y1 > height) {
    throw InvalidInput(what + " " + str(r) + " is empty or outside the " + std::to_string(width) + "x" +
                       std::to_string(height) + " canvas");
  }
}

void check_even(const Rect& r, const std::string& what) {
  if ((r.x | r.y | r.w | r.h) & 1) {
    throw InvalidInput(what + " " + str(r) + " must have even x, y, width and height on an I420 canvas");
  }
}

Rect half(const Rect& r) { return {r.x / 2, r.y / 2, r.w / 2, r.h / 2}; }

template <class P>
void check_plane(const P& p, int width, int height, const std::string& what) {
  if (p.width != width || p.height != height) {
    throw InvalidInput(what + " is " + std::to_string(p.width) + "x" + std::to_string(p.height) + ", expected " +
                       std::to_string(width) + "x" + std::to_string(height));
  }
  if (!p.data || p.stride < p.width) {
    throw InvalidInput(what + " stride " + std::to_string(p.stride) + " is below its width " +
                       std::to_string(p.width));
  }
}

template <class P>
void check_size(const P& p, const std::string& what) {
  if (p.width <= 0 || p.height <= 0 || p.width > kMaxDimension || p.height > kMaxDimension) {
    throw InvalidInput(what + " must be 1.." + std::to_string(kMaxDimension) + " pixels a side, got " +
                       std::to_string(p.width) + "x" + std::to_string(p.height));
  }
}

// The bytes a plane's rows span, for aliasing checks.
template <class P>
std::pair<uintptr_t, uintptr_t> extent(const P& p) {
  const auto lo = reinterpret_cast<uintptr_t>(p.data);
  return {lo, lo + static_cast<uintptr_t>(p.height - 1) * static_cast<uintptr_t>(p.stride) + p.width};
}

// A source read while the canvas is written would make the result depend on the band
// order (threads=1 and threads=N would differ): sources must not share the canvas's memory.
void check_no_alias(const ConstPlane& src, const I420& canvas, const std::string& what) {
  const auto s = extent(src);
  for (const Plane* c : {&canvas.y, &canvas.u, &canvas.v}) {
    const auto d = extent(*c);
    if (s.first < d.second && d.first < s.second) throw InvalidInput(what + " shares memory with the canvas");
  }
}

// The crop must be finite before it reaches the tap cache (NaN keys break std::map).
void check_crop(const RectF& c, const std::string& what) {
  if (!std::isfinite(c.x) || !std::isfinite(c.y) || !std::isfinite(c.w) || !std::isfinite(c.h)) {
    throw InvalidInput(what + " crop (" + std::to_string(c.x) + ", " + std::to_string(c.y) + ", " +
                       std::to_string(c.w) + ", " + std::to_string(c.h) + ") must be finite");
  }
  // The interval checks live in make_axis_taps, which every plan goes through.
}

// One op after validation, with its plans: what the band executor runs.
struct Planned {
  const ComposeOp* op;
  ScalePlan luma, chroma;  // scale ops only
};

Planned plan_op(const I420& canvas, const ComposeOp& op, size_t index, const ScaleKernels& k, TapCache& taps) {
  Planned p{&op, {}, {}};
  const std::string where = "compose op " + std::to_string(index);
  const int W = canvas.y.width, H = canvas.y.height;
  try {
    if (auto* f = std::get_if<FillOp>(&op)) {
      check_even(f->rect, where + " (fill) rect");
      check_rect_inside(f->rect, W, H, where + " (fill) rect");
    } else if (auto* s = std::get_if<ScaleOp>(&op)) {
      const std::string w = where + " (scale)";
      check_source(s->src, w + " source");
      for (const ConstPlane* q : {&s->src.y, &s->src.u, &s->src.v}) check_no_alias(*q, canvas, w + " source");
      check_even(s->rect, w + " destination rect");
      check_rect_inside(s->rect, W, H, w + " destination rect");
      check_crop(s->crop, w);
      const RectF c2{s->crop.x / 2, s->crop.y / 2, s->crop.w / 2, s->crop.h / 2};
      try {
        p.luma = make_scale_plan(s->crop, s->src.y.width, s->src.y.height, s->rect, k, &taps);
        p.chroma = make_scale_plan(c2, s->src.u.width, s->src.u.height, half(s->rect), k, &taps);
      } catch (const InvalidInput& e) {
        throw InvalidInput(w + " crop: " + e.what());
      }
    } else if (auto* b = std::get_if<BorderOp>(&op)) {
      check_even(b->rect, where + " (border) rect");
      check_rect_inside(b->rect, W, H, where + " (border) rect");
      if (b->thickness <= 0) {
        throw InvalidInput(where + " (border): thickness must be positive, got " + std::to_string(b->thickness));
      }
    } else if (auto* o = std::get_if<BlendOp>(&op)) {
      const std::string w = where + " (blend)";
      check_source(o->overlay, w + " overlay");
      check_size(o->alpha, w + " overlay alpha plane");
      check_plane(o->alpha, o->overlay.y.width, o->overlay.y.height, w + " overlay alpha plane");
      for (const ConstPlane* q : {&o->overlay.y, &o->overlay.u, &o->overlay.v, &o->alpha}) {
        check_no_alias(*q, canvas, w + " overlay");
      }
      const Rect r{o->x, o->y, o->overlay.y.width, o->overlay.y.height};
      check_rect_inside(r, W, H, w + " overlay rect");
      if ((o->x | o->y) & 1) throw InvalidInput(w + " overlay position " + str(r) + " must have even x and y");
      // The chroma rect follows from the luma one on an even canvas; checked anyway.
      check_rect_inside({o->x / 2, o->y / 2, o->overlay.u.width, o->overlay.u.height}, canvas.u.width,
                        canvas.u.height, w + " overlay chroma rect");
    }
  } catch (const InvalidInput& e) {
    const std::string m = e.what();
    throw InvalidInput(m.rfind("compose op ", 0) == 0 ? m : where + ": " + m);
  }
  return p;
}

void run_op(const I420& c, const Planned& p, Band band) {
  const Band hb = band.half();
  if (auto* f = std::get_if<FillOp>(p.op)) {
    fill_plane_rows(c.y, f->rect, f->color.y, band);
    fill_plane_rows(c.u, half(f->rect), f->color.u, hb);
    fill_plane_rows(c.v, half(f->rect), f->color.v, hb);
  } else if (auto* s = std::get_if<ScaleOp>(p.op)) {
    scale_plane_rows(p.luma, s->src.y, c.y, band);
    scale_plane_rows(p.chroma, s->src.u, c.u, hb);
    scale_plane_rows(p.chroma, s->src.v, c.v, hb);
  } else if (auto* b = std::get_if<BorderOp>(p.op)) {
    // Clamp before halving: thickness 2**31 - 1 must not overflow (t + 1) / 2.
    const int t = std::min(b->thickness, std::max(b->rect.w, b->rect.h));
    border_plane_rows(c.y, b->rect, t, b->color.y, band);
    border_plane_rows(c.u, half(b->rect), (t + 1) / 2, b->color.u, hb);
    border_plane_rows(c.v, half(b->rect), (t + 1) / 2, b->color.v, hb);
  } else if (auto* o = std::get_if<BlendOp>(p.op)) {
    blend_plane_rows(c.y, o->overlay.y, o->x, o->y, 1, o->alpha, band);
    blend_plane_rows(c.u, o->overlay.u, o->x / 2, o->y / 2, 2, o->alpha, hb);
    blend_plane_rows(c.v, o->overlay.v, o->x / 2, o->y / 2, 2, o->alpha, hb);
  }
}

}  // namespace

void check_canvas(const I420& c) {
  if (c.y.width <= 0 || c.y.height <= 0 || (c.y.width & 1) || (c.y.height & 1)) {
    throw InvalidInput("canvas must have a positive even width and height, got " + std::to_string(c.y.width) +
                       "x" + std::to_string(c.y.height));
  }
  check_size(c.y, "canvas");
  check_plane(c.y, c.y.width, c.y.height, "canvas Y plane");
  check_plane(c.u, c.y.width / 2, c.y.height / 2, "canvas U plane");
  check_plane(c.v, c.y.width / 2, c.y.height / 2, "canvas V plane");
}

void check_source(const ConstI420& s, const std::string& what) {
  if (s.y.width <= 0 || s.y.height <= 0) throw InvalidInput(what + " is empty");
  check_size(s.y, what);
  const int cw = (s.y.width + 1) / 2, ch = (s.y.height + 1) / 2;
  check_plane(s.y, s.y.width, s.y.height, what + " Y plane");
  check_plane(s.u, cw, ch, what + " U plane");
  check_plane(s.v, cw, ch, what + " V plane");
}

void compose(ComposeContext& context, const I420& canvas, const std::vector<ComposeOp>& ops, int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    throw InvalidInput("threads must be 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  }
  if (context.closed()) throw InvalidInput("the compose context is closed");
  check_canvas(canvas);
  // Kernels are picked once for the whole call, so every band runs the same rows.
  const ScaleKernels k = scale_kernels();
  std::vector<Planned> plans;
  plans.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) plans.push_back(plan_op(canvas, ops[i], i, k, context.taps()));
  if (plans.empty()) return;
  // Horizontal bands of even height, two per thread so uneven tiles still balance.
  const int H = canvas.y.height;
  const int bands = threads == 1 ? 1 : std::min(2 * threads, H / 2);
  const int band_h = ((H + bands - 1) / bands + 1) & ~1;
  auto run_band = [&](int b) {
    const Band band{b * band_h, std::min(H, (b + 1) * band_h)};
    for (const auto& p : plans) run_op(canvas, p, band);
  };
  context.workers().run(bands, threads - 1, run_band);
}

void scale_plane(const ConstPlane& src, const RectF& crop, const Plane& dst, const Rect& rect) {
  check_size(src, "source plane");
  check_size(dst, "destination plane");
  check_plane(src, src.width, src.height, "source plane");
  check_plane(dst, dst.width, dst.height, "destination plane");
  const auto s = extent(src), d = extent(dst);
  if (s.first < d.second && d.first < s.second) throw InvalidInput("source plane shares memory with the destination");
  check_rect_inside(rect, dst.width, dst.height, "destination rect");
  check_crop(crop, "source");
  const ScalePlan plan = make_scale_plan(crop, src.width, src.height, rect, scale_kernels(), nullptr);
  scale_plane_rows(plan, src, dst, Band{});
}

}  // namespace mediacore

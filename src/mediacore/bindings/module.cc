// The only file that includes pybind11: converts Python buffers into core views,
// releases the GIL around real work, and maps core errors to vmedia.errors classes.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "mediacore/compositor.h"
#include "mediacore/cpu_features.h"
#include "mediacore/errors.h"
#include "mediacore/parallel.h"
#include "mediacore/scale_rows.h"

namespace py = pybind11;
using namespace mediacore;

namespace {

constexpr int kMaxThreads = 16;

// Buffers stay requested (and so alive) for as long as the views into them are used.
struct Buffers {
  std::vector<py::buffer_info> held;

  py::buffer_info& request(const py::handle& obj, bool writable, const std::string& what) {
    if (!py::isinstance<py::buffer>(obj)) {
      throw InvalidInput(what + " must support the buffer protocol (numpy array or PyAV plane), got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
    }
    try {
      held.push_back(py::reinterpret_borrow<py::buffer>(obj).request(writable));
    } catch (py::error_already_set& e) {
      throw InvalidInput(what + (writable ? " is not writable: " : " cannot be read: ") + e.what());
    }
    py::buffer_info& b = held.back();
    if (b.ndim != 2 || b.itemsize != 1) {
      throw InvalidInput(what + " must be a 2-D array of uint8, got ndim=" + std::to_string(b.ndim) +
                         " itemsize=" + std::to_string(b.itemsize));
    }
    if (b.strides[1] != 1 || b.strides[0] < b.shape[1]) {
      throw InvalidInput(what + " rows must be contiguous with a positive stride, got strides (" +
                         std::to_string(b.strides[0]) + ", " + std::to_string(b.strides[1]) + ")");
    }
    return b;
  }

  Plane plane(const py::handle& obj, const std::string& what) {
    auto& b = request(obj, true, what);
    return {static_cast<uint8_t*>(b.ptr), static_cast<ptrdiff_t>(b.strides[0]), static_cast<int>(b.shape[1]),
            static_cast<int>(b.shape[0])};
  }
  ConstPlane const_plane(const py::handle& obj, const std::string& what) {
    auto& b = request(obj, false, what);
    return {static_cast<const uint8_t*>(b.ptr), static_cast<ptrdiff_t>(b.strides[0]),
            static_cast<int>(b.shape[1]), static_cast<int>(b.shape[0])};
  }
};

py::tuple as_tuple(const py::handle& obj, size_t n, const std::string& what) {
  if (!py::isinstance<py::tuple>(obj) && !py::isinstance<py::list>(obj)) {
    throw InvalidInput(what + " must be a tuple of " + std::to_string(n) + " items");
  }
  py::tuple t = py::tuple(py::reinterpret_borrow<py::object>(obj));
  if (t.size() != n) {
    throw InvalidInput(what + " must have " + std::to_string(n) + " items, got " + std::to_string(t.size()));
  }
  return t;
}

Rect to_rect(const py::handle& obj) {
  auto t = as_tuple(obj, 4, "rect");
  return {t[0].cast<int>(), t[1].cast<int>(), t[2].cast<int>(), t[3].cast<int>()};
}
RectF to_rectf(const py::handle& obj) {
  auto t = as_tuple(obj, 4, "crop");
  return {t[0].cast<double>(), t[1].cast<double>(), t[2].cast<double>(), t[3].cast<double>()};
}
Yuv to_yuv(const py::handle& obj) {
  auto t = as_tuple(obj, 3, "colour");
  auto c = [](const py::handle& v) {
    int x = v.cast<int>();
    if (x < 0 || x > 255) throw InvalidInput("colour components must be 0..255, got " + std::to_string(x));
    return static_cast<uint8_t>(x);
  };
  return {c(t[0]), c(t[1]), c(t[2])};
}

// One entry of a compose() display list, with every buffer already resolved.
struct FillOp { Rect rect; Yuv color; };
struct ScaleOp { ConstI420 src; RectF crop; Rect rect; };
struct BorderOp { Rect rect; int thickness; Yuv color; };
struct BlendOp { ConstI420 overlay; ConstPlane alpha; int x, y; };
using Op = std::variant<FillOp, ScaleOp, BorderOp, BlendOp>;

ConstI420 to_source(Buffers& bufs, const py::handle& obj, const std::string& what) {
  auto t = as_tuple(obj, 3, what + " planes");
  ConstI420 s{bufs.const_plane(t[0], what + " Y plane"), bufs.const_plane(t[1], what + " U plane"),
              bufs.const_plane(t[2], what + " V plane")};
  check_source(s, what.c_str());
  return s;
}

Op to_op(Buffers& bufs, const py::handle& obj, size_t index) {
  const std::string where = "compose op " + std::to_string(index);
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) == 0) throw InvalidInput(where + " must be a tuple");
  py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  const std::string kind = py::str(t[0]);
  auto need = [&](size_t n) {
    if (t.size() != n) {
      throw InvalidInput(where + " (" + kind + ") needs " + std::to_string(n) + " items, got " +
                         std::to_string(t.size()));
    }
  };
  if (kind == "fill") { need(3); return FillOp{to_rect(t[1]), to_yuv(t[2])}; }
  if (kind == "scale") { need(4); return ScaleOp{to_source(bufs, t[1], where + " source"), to_rectf(t[2]), to_rect(t[3])}; }
  if (kind == "border") { need(4); return BorderOp{to_rect(t[1]), t[2].cast<int>(), to_yuv(t[3])}; }
  if (kind == "blend") {
    need(4);
    auto p = as_tuple(t[1], 4, where + " overlay planes (y, u, v, alpha)");
    ConstI420 ov{bufs.const_plane(p[0], "overlay Y plane"), bufs.const_plane(p[1], "overlay U plane"),
                 bufs.const_plane(p[2], "overlay V plane")};
    return BlendOp{ov, bufs.const_plane(p[3], "overlay alpha plane"), t[2].cast<int>(), t[3].cast<int>()};
  }
  throw InvalidInput(where + " has unknown kind '" + kind + "' (expected fill, scale, border or blend)");
}

struct RunOp {
  const I420& canvas;
  Band band;
  void operator()(const FillOp& o) const { fill_i420(canvas, o.rect, o.color, band); }
  void operator()(const ScaleOp& o) const { scale_i420(o.src, o.crop, canvas, o.rect, band); }
  void operator()(const BorderOp& o) const { border_i420(canvas, o.rect, o.thickness, o.color, band); }
  void operator()(const BlendOp& o) const { blend_i420(canvas, o.overlay, o.alpha, o.x, o.y, band); }
};

WorkerPool& pool_of(int threads) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<WorkerPool>> pools(kMaxThreads + 1);
  std::lock_guard<std::mutex> lock(mu);
  if (!pools[threads]) pools[threads] = std::make_unique<WorkerPool>(threads);
  return *pools[threads];
}

void compose(const py::handle& canvas_obj, const py::iterable& ops_obj, int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    throw InvalidInput("threads must be 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  }
  Buffers bufs;
  auto c = as_tuple(canvas_obj, 3, "canvas planes");
  bufs.held.reserve(64);
  I420 canvas{bufs.plane(c[0], "canvas Y plane"), bufs.plane(c[1], "canvas U plane"),
              bufs.plane(c[2], "canvas V plane")};
  check_canvas(canvas);
  std::vector<Op> ops;
  size_t i = 0;
  for (auto o : ops_obj) ops.push_back(to_op(bufs, o, i++));
  py::gil_scoped_release nogil;
  // An empty band checks every op before anything is drawn, so a bad op leaves the canvas as it was.
  for (const auto& op : ops) std::visit(RunOp{canvas, Band{0, 0}}, op);
  // Horizontal bands of even height, two per thread so uneven tiles still balance.
  const int bands = threads == 1 ? 1 : 2 * threads;
  const int band_h = ((canvas.y.height + bands - 1) / bands + 1) & ~1;
  pool_of(threads).run(bands, [&](int b) {
    const Band band{b * band_h, std::min(canvas.y.height, (b + 1) * band_h)};
    for (const auto& op : ops) std::visit(RunOp{canvas, band}, op);
  });
}

void scale_plane_py(const py::handle& src, const py::handle& crop, const py::handle& dst, const py::handle& rect) {
  Buffers bufs;
  ConstPlane s = bufs.const_plane(src, "source plane");
  Plane d = bufs.plane(dst, "destination plane");
  RectF cr = to_rectf(crop);
  Rect r = to_rect(rect);
  py::gil_scoped_release nogil;
  scale_plane(s, cr, d, r);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "vmedia's C++ media core: compositing, scaling, audio mixing, speaker detection";

  // Core errors become vmedia.errors.InvalidInputError (a ValueError), looked up lazily
  // so importing _core alone still works.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidInput& e) {
      py::object cls = py::module_::import("vmedia.errors").attr("InvalidInputError");
      PyErr_SetString(cls.ptr(), e.what());
    }
  });

  m.def("cpu_features", []() {
    py::dict d;
    d["avx2"] = bool(cpu_flags() & kCpuAVX2);
    return d;
  }, "Optimised kernel features in use (after the mask).");
  m.def("set_cpu_mask", &set_cpu_mask, py::arg("mask"),
        "Restrict optimised kernels; 0 selects the plain C++ reference rows.");
  m.def("cpu_mask", &cpu_mask);
  m.def("scale_kernel_name", []() { return std::string(scale_kernels().name); });

  m.def("compose", &compose, py::arg("canvas"), py::arg("ops"), py::arg("threads") = 1,
        "Run a display list of fill/scale/border/blend ops on an I420 canvas (GIL released),\n"
        "split into horizontal bands over `threads` threads.");
  m.def("scale_plane", &scale_plane_py, py::arg("src"), py::arg("crop"), py::arg("dst"), py::arg("rect"),
        "Scale src region crop=(x, y, w, h) (floats) into rect=(x, y, w, h) of dst.");
}

// The only file that includes pybind11: converts Python buffers into core views,
// releases the GIL around real work, and maps core errors to vmedia.errors classes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "mediacore/audio_mixer.h"
#include "mediacore/compositor.h"
#include "mediacore/limiter.h"
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

// A float32 block of `rows` x `cols` samples, C-contiguous, as the audio core needs.
const float* float_rows(Buffers& bufs, const py::handle& obj, py::ssize_t cols, py::ssize_t& rows, const std::string& what) {
  if (!py::isinstance<py::buffer>(obj)) throw InvalidInput(what + " must be a float32 numpy array");
  bufs.held.push_back(py::reinterpret_borrow<py::buffer>(obj).request());
  const py::buffer_info& b = bufs.held.back();
  if (b.format != py::format_descriptor<float>::format() || b.itemsize != 4) {
    throw InvalidInput(what + " must hold float32 samples, got format '" + b.format + "'");
  }
  const bool one_row = b.ndim == 1;
  if (!(one_row || b.ndim == 2) || b.shape[b.ndim - 1] != cols) {
    std::string shape;
    for (auto d : b.shape) shape += std::to_string(d) + ",";
    throw InvalidInput(what + " must have " + std::to_string(cols) + " samples per row (20 ms at 48 kHz), got shape (" +
                       shape + ")");
  }
  rows = one_row ? 1 : b.shape[0];
  if (b.strides[b.ndim - 1] != 4 || (!one_row && b.strides[0] != cols * 4)) {
    throw InvalidInput(what + " must be C-contiguous (use numpy.ascontiguousarray)");
  }
  return static_cast<const float*>(b.ptr);
}

const char* event_name(SpeakerEvent::Kind k) {
  switch (k) {
    case SpeakerEvent::kSpeakerChanged: return "speaker_changed";
    case SpeakerEvent::kStartedSpeaking: return "started_speaking";
    case SpeakerEvent::kStoppedSpeaking: return "stopped_speaking";
  }
  return "?";
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict mix_frame(AudioMixer& mixer, const py::handle& ids_obj, const py::handle& frames_obj) {
  Buffers bufs;
  auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(ids_obj);
  if (!ids || ids.ndim() != 1) throw InvalidInput("ids must be a 1-D sequence of integer participant ids");
  py::ssize_t rows = 0;
  const float* frames = ids.size() ? float_rows(bufs, frames_obj, mixer.config().frame_size, rows, "frames") : nullptr;
  if (ids.size() && rows != ids.size()) {
    throw InvalidInput("frames has " + std::to_string(rows) + " rows for " + std::to_string(ids.size()) + " ids");
  }
  MixResult r;
  {
    py::gil_scoped_release nogil;
    mixer.process(ids.data(), frames, static_cast<int>(ids.size()), r);
  }
  const int F = mixer.config().frame_size;
  py::dict d;
  d["ids"] = to_array(r.ids);
  d["levels"] = to_array(r.levels);
  d["voice"] = to_array(r.voice).attr("astype")("bool");
  d["mixed"] = to_array(r.mixed);
  d["shared"] = to_array(r.shared);
  d["minus"] = to_array(r.minus).attr("reshape")(static_cast<py::ssize_t>(r.mixed.size()), F);
  py::list events;
  for (const auto& e : r.events) events.append(py::make_tuple(event_name(e.kind), e.id));
  d["events"] = events;
  d["dominant"] = r.dominant < 0 ? py::object(py::none()) : py::object(py::int_(r.dominant));
  return d;
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

  py::class_<DetectorParams>(m, "DetectorParams", "Speaker-detector parameters (see docs/speaker-detection.md).")
      .def(py::init<>())
      .def_readwrite("floor_rise_db", &DetectorParams::floor_rise_db)
      .def_readwrite("floor_fall", &DetectorParams::floor_fall)
      .def_readwrite("floor_window", &DetectorParams::floor_window)
      .def_readwrite("floor_percentile", &DetectorParams::floor_percentile)
      .def_readwrite("max_rhythm", &DetectorParams::max_rhythm)
      .def_readwrite("rhythm_window", &DetectorParams::rhythm_window)
      .def_readwrite("rhythm_min_lag", &DetectorParams::rhythm_min_lag)
      .def_readwrite("rhythm_max_lag", &DetectorParams::rhythm_max_lag)
      .def_readwrite("active_snr_db", &DetectorParams::active_snr_db)
      .def_readwrite("active_min_db", &DetectorParams::active_min_db)
      .def_readwrite("min_modulation_db", &DetectorParams::min_modulation_db)
      .def_readwrite("modulation_frames", &DetectorParams::modulation_frames)
      .def_readwrite("short_frames", &DetectorParams::short_frames)
      .def_readwrite("long_frames", &DetectorParams::long_frames)
      .def_readwrite("start_short", &DetectorParams::start_short)
      .def_readwrite("stop_silent", &DetectorParams::stop_silent)
      .def_readwrite("switch_long", &DetectorParams::switch_long)
      .def_readwrite("switch_margin", &DetectorParams::switch_margin)
      .def_readwrite("min_dwell", &DetectorParams::min_dwell);

  py::class_<AudioMixer>(m, "AudioMixer", "One room's audio core: levels, speaker detection, mix, mix-minus, limiter.")
      .def(py::init([](int max_mixed, int frame_size, int sample_rate, float threshold, DetectorParams detector) {
             MixerConfig c;
             c.max_mixed = max_mixed;
             c.frame_size = frame_size;
             c.sample_rate = sample_rate;
             c.limiter_threshold = threshold;
             c.detector = detector;
             return std::make_unique<AudioMixer>(c);
           }),
           py::arg("max_mixed") = 3, py::arg("frame_size") = 960, py::arg("sample_rate") = 48000,
           py::arg("threshold") = 0.891f, py::arg("detector") = DetectorParams())
      .def("add", &AudioMixer::add, py::arg("id"))
      .def("remove", &AudioMixer::remove, py::arg("id"))
      .def("set_gain", &AudioMixer::set_gain, py::arg("id"), py::arg("gain"))
      .def("set_muted", &AudioMixer::set_muted, py::arg("id"), py::arg("muted"))
      .def("set_forced", &AudioMixer::set_forced, py::arg("id"), py::arg("forced"))
      .def("__contains__", &AudioMixer::has)
      .def("__len__", &AudioMixer::size)
      .def_property_readonly("latency", &AudioMixer::latency, "Samples of limiter look-ahead delay.")
      .def_property_readonly("frame_size", [](const AudioMixer& a) { return a.config().frame_size; })
      .def_property_readonly("max_mixed", [](const AudioMixer& a) { return a.config().max_mixed; })
      .def("process", &mix_frame, py::arg("ids"), py::arg("frames"),
           "Mix one frame: frames[i] is participant ids[i]'s float32 audio; others get a gap.");

  py::class_<Limiter>(m, "Limiter", "Look-ahead peak limiter (the one each mix goes through).")
      .def(py::init<int, float, float, int>(), py::arg("lookahead") = 64, py::arg("threshold") = 0.891f,
           py::arg("release_ms") = 80.f, py::arg("sample_rate") = 48000)
      .def_property_readonly("latency", &Limiter::latency)
      .def_property_readonly("gain", &Limiter::gain)
      .def("process", [](Limiter& lim, const py::handle& x) {
        Buffers bufs;
        py::ssize_t rows = 0;
        if (!py::isinstance<py::buffer>(x)) throw InvalidInput("limiter input must be a 1-D float32 array");
        auto info = py::reinterpret_borrow<py::buffer>(x).request();
        const py::ssize_t n = info.ndim == 1 ? info.shape[0] : -1;
        if (n < 0) throw InvalidInput("limiter input must be a 1-D float32 array");
        const float* in = float_rows(bufs, x, n, rows, "limiter input");
        py::array_t<float> out(n);
        float* o = out.mutable_data();
        {
          py::gil_scoped_release nogil;
          lim.process(in, o, static_cast<int>(n));
        }
        return out;
      }, py::arg("samples"));
}

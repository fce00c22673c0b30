// The only file that includes pybind11: converts Python buffers into core views,
// releases the GIL around real work, and maps core errors to vmedia.errors classes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mediacore/audio_checks.h"
#include "mediacore/audio_mixer.h"
#include "mediacore/compose.h"
#include "mediacore/cpu_features.h"
#include "mediacore/errors.h"
#include "mediacore/limiter.h"
#include "mediacore/scale_rows.h"
#include "mediacore/voicing.h"

namespace py = pybind11;
using namespace mediacore;

namespace {

std::string type_name(const py::handle& obj) { return py::str(py::type::of(obj).attr("__name__")); }

std::string short_repr(const py::handle& obj) {
  std::string r = py::repr(obj);
  return r.size() > 40 ? r.substr(0, 37) + "..." : r;
}

// Python ints (and numpy integers) into a checked range. pybind11's own casters raise a
// bare TypeError/RuntimeError on overflow; this names the argument instead.
int64_t arg_int(const py::handle& obj, const std::string& name, int64_t lo, int64_t hi) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr())) {
    throw InvalidInput(name + " must be an integer, got " + type_name(obj));
  }
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow || v < lo || v > hi) {
    throw InvalidInput(name + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + short_repr(obj));
  }
  return v;
}

int arg_int32(const py::handle& obj, const std::string& name) {
  return static_cast<int>(arg_int(obj, name, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

// A real number (Python or numpy float or int), checked finite when asked to.
double arg_float(const py::handle& obj, const std::string& name, bool finite = true) {
  if (PyBool_Check(obj.ptr()) || !(PyFloat_Check(obj.ptr()) || PyIndex_Check(obj.ptr()) ||
                                   py::hasattr(obj, "__float__"))) {
    throw InvalidInput(name + " must be a number, got " + type_name(obj));
  }
  const double v = PyFloat_AsDouble(obj.ptr());
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw InvalidInput(name + " must be a number that fits a double, got " + short_repr(obj));
  }
  if (finite && !std::isfinite(v)) throw InvalidInput(name + " must be finite, got " + short_repr(obj));
  return v;
}

// A float32 parameter: finite and representable (1e300 would become inf).
float arg_float32(const py::handle& obj, const std::string& name) {
  const double v = arg_float(obj, name);
  if (std::fabs(v) > std::numeric_limits<float>::max()) {
    throw InvalidInput(name + " must fit a float32, got " + short_repr(obj));
  }
  return static_cast<float>(v);
}

bool arg_bool(const py::handle& obj, const std::string& name) {
  if (PyBool_Check(obj.ptr())) return obj.ptr() == Py_True;
  if (py::hasattr(obj, "dtype") && py::str(obj.attr("dtype")).cast<std::string>() == "bool") {
    return PyObject_IsTrue(obj.ptr()) == 1;
  }
  return arg_int(obj, name + " (a bool)", 0, 1) != 0;
}

// Buffers stay requested (and so alive) for as long as the views into them are used.
struct Buffers {
  std::vector<py::buffer_info> held;

  py::buffer_info& request(const py::handle& obj, bool writable, const std::string& what) {
    if (!py::isinstance<py::buffer>(obj)) {
      throw InvalidInput(what + " must support the buffer protocol (numpy array or PyAV plane), got " +
                         type_name(obj));
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
    if (b.shape[0] > kMaxDimension || b.shape[1] > kMaxDimension) {
      throw InvalidInput(what + " is " + std::to_string(b.shape[1]) + "x" + std::to_string(b.shape[0]) +
                         "; planes are at most " + std::to_string(kMaxDimension) + " pixels a side");
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
    throw InvalidInput(what + " must be a tuple of " + std::to_string(n) + " items, got " + type_name(obj));
  }
  py::tuple t = py::tuple(py::reinterpret_borrow<py::object>(obj));
  if (t.size() != n) {
    throw InvalidInput(what + " must have " + std::to_string(n) + " items, got " + std::to_string(t.size()));
  }
  return t;
}

Rect to_rect(const py::handle& obj, const std::string& what) {
  auto t = as_tuple(obj, 4, what);
  return {arg_int32(t[0], what + " x"), arg_int32(t[1], what + " y"), arg_int32(t[2], what + " width"),
          arg_int32(t[3], what + " height")};
}
// Finiteness and range are the core's checks (its messages say what the source size is).
RectF to_rectf(const py::handle& obj, const std::string& what) {
  auto t = as_tuple(obj, 4, what);
  return {arg_float(t[0], what + " x", false), arg_float(t[1], what + " y", false),
          arg_float(t[2], what + " width", false), arg_float(t[3], what + " height", false)};
}
Yuv to_yuv(const py::handle& obj, const std::string& what) {
  auto t = as_tuple(obj, 3, what);
  auto c = [&](const py::handle& v, const char* comp) {
    if (!PyIndex_Check(v.ptr()) || PyBool_Check(v.ptr())) {
      throw InvalidInput(what + " components must be integers 0..255, got " + type_name(v));
    }
    int overflow = 0;
    py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
    const long long x = i ? PyLong_AsLongLongAndOverflow(i.ptr(), &overflow) : -1;
    if (!i) PyErr_Clear();
    if (overflow || x < 0 || x > 255) {
      throw InvalidInput(what + " components must be 0..255, got " + comp + "=" + short_repr(v));
    }
    return static_cast<uint8_t>(x);
  };
  return {c(t[0], "y"), c(t[1], "u"), c(t[2], "v")};
}

ConstI420 to_source(Buffers& bufs, const py::handle& obj, const std::string& what) {
  auto t = as_tuple(obj, 3, what + " planes");
  return {bufs.const_plane(t[0], what + " Y plane"), bufs.const_plane(t[1], what + " U plane"),
          bufs.const_plane(t[2], what + " V plane")};
}

// Python op tuples into the core's op structs; compose() validates them all.
ComposeOp to_op(Buffers& bufs, const py::handle& obj, size_t index) {
  const std::string where = "compose op " + std::to_string(index);
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) == 0) {
    throw InvalidInput(where + " must be a non-empty tuple, got " + type_name(obj));
  }
  py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  if (!py::isinstance<py::str>(t[0])) {
    throw InvalidInput(where + " must start with its kind (a str), got " + type_name(t[0]));
  }
  const std::string kind = py::str(t[0]);
  const std::string w = where + " (" + kind + ")";
  auto need = [&](size_t n) {
    if (t.size() != n) {
      throw InvalidInput(w + " needs " + std::to_string(n) + " items, got " + std::to_string(t.size()));
    }
  };
  if (kind == "fill") {
    need(3);
    return FillOp{to_rect(t[1], w + " rect"), to_yuv(t[2], w + " colour")};
  }
  if (kind == "scale") {
    need(4);
    return ScaleOp{to_source(bufs, t[1], w + " source"), to_rectf(t[2], w + " crop"), to_rect(t[3], w + " rect")};
  }
  if (kind == "border") {
    need(4);
    return BorderOp{to_rect(t[1], w + " rect"), arg_int32(t[2], w + " thickness"), to_yuv(t[3], w + " colour")};
  }
  if (kind == "blend") {
    need(4);
    auto p = as_tuple(t[1], 4, w + " overlay planes (y, u, v, alpha)");
    ConstI420 ov{bufs.const_plane(p[0], w + " overlay Y plane"), bufs.const_plane(p[1], w + " overlay U plane"),
                 bufs.const_plane(p[2], w + " overlay V plane")};
    return BlendOp{ov, bufs.const_plane(p[3], w + " overlay alpha plane"), arg_int32(t[2], w + " x"),
                   arg_int32(t[3], w + " y")};
  }
  throw InvalidInput(where + " has unknown kind '" + kind + "' (expected fill, scale, border or blend)");
}

std::shared_ptr<ComposeContext> context_of(const py::handle& obj) {
  if (obj.is_none()) return default_compose_context();
  if (!py::isinstance<ComposeContext>(obj)) {
    throw InvalidInput("context must be a ComposeContext or None, got " + type_name(obj));
  }
  return obj.cast<std::shared_ptr<ComposeContext>>();
}

void close_context(ComposeContext& c) {
  if (&c == default_compose_context().get()) {
    throw InvalidInput("the default compose context is shared by every caller without one; it is not closed");
  }
  py::gil_scoped_release nogil;  // joining waits for the bands in flight
  c.close();
}

void compose_py(const py::handle& canvas_obj, const py::handle& ops_obj, const py::handle& threads_obj,
                const py::handle& context_obj) {
  const int threads = static_cast<int>(arg_int(threads_obj, "threads", 1, kMaxThreads));
  const std::shared_ptr<ComposeContext> context = context_of(context_obj);
  Buffers bufs;
  auto c = as_tuple(canvas_obj, 3, "canvas planes");
  bufs.held.reserve(64);
  I420 canvas{bufs.plane(c[0], "canvas Y plane"), bufs.plane(c[1], "canvas U plane"),
              bufs.plane(c[2], "canvas V plane")};
  if (!py::isinstance<py::iterable>(ops_obj) || py::isinstance<py::str>(ops_obj)) {
    throw InvalidInput("ops must be an iterable of op tuples, got " + type_name(ops_obj));
  }
  std::vector<ComposeOp> ops;
  size_t i = 0;
  for (auto o : ops_obj) ops.push_back(to_op(bufs, o, i++));
  py::gil_scoped_release nogil;
  compose(*context, canvas, ops, threads);
}

void scale_plane_py(const py::handle& src, const py::handle& crop, const py::handle& dst, const py::handle& rect) {
  Buffers bufs;
  ConstPlane s = bufs.const_plane(src, "source plane");
  Plane d = bufs.plane(dst, "destination plane");
  RectF cr = to_rectf(crop, "crop");
  Rect r = to_rect(rect, "rect");
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
  // Integer ids only: forcecast would quietly turn 1.7 into participant 1.
  py::array raw = py::array::ensure(ids_obj);
  if (!raw || raw.ndim() != 1) throw InvalidInput("ids must be a 1-D sequence of integer participant ids");
  const char kind = raw.dtype().kind();
  if (raw.size() && kind != 'i' && kind != 'u') {
    throw InvalidInput("ids must be integer participant ids, got dtype " + std::string(py::str(raw.dtype())));
  }
  if (raw.size() > std::numeric_limits<int>::max()) throw InvalidInput("too many ids in one frame");
  auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
  if (!ids) throw InvalidInput("ids must fit int64");
  if (kind == 'u') {
    for (py::ssize_t i = 0; i < ids.size(); ++i) {
      if (ids.data()[i] < 0) throw InvalidInput("ids must fit int64");
    }
  }
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
  m.def("set_cpu_mask", [](const py::handle& mask) {
          set_cpu_mask(arg_int32(mask, "mask"));
        }, py::arg("mask"),
        "Restrict optimised kernels; 0 selects the plain C++ reference rows, -1 allows all.");
  m.def("cpu_mask", &cpu_mask);
  m.def("scale_kernel_name", []() { return std::string(scale_kernels().name); });
  m.attr("MAX_DIMENSION") = kMaxDimension;
  m.attr("MAX_THREADS") = kMaxThreads;
  m.attr("MAX_SAMPLE") = kMaxSample;

  py::class_<ComposeContext, std::shared_ptr<ComposeContext>>(
      m, "ComposeContext",
      "What compose calls share: threads - 1 worker threads (the caller draws too; started by the\n"
      "first compose asking for more than one thread) and a tap-table cache bounded by table count\n"
      "and bytes (least recently used tables go first).")
      .def(py::init([](const py::handle& threads, const py::handle& max_tap_tables, const py::handle& max_tap_bytes) {
             const int t = static_cast<int>(arg_int(threads, "threads", 1, kMaxThreads));
             const auto tables = static_cast<size_t>(arg_int(max_tap_tables, "max_tap_tables", 0, kMaxTapTables));
             const auto bytes = static_cast<size_t>(arg_int(max_tap_bytes, "max_tap_bytes", 0, kMaxTapBytes));
             return std::make_shared<ComposeContext>(t, tables, bytes);
           }),
           py::arg("threads") = 1, py::arg("max_tap_tables") = kDefaultTapTables,
           py::arg("max_tap_bytes") = kDefaultTapBytes)
      .def_property_readonly("threads", &ComposeContext::threads)
      .def_property_readonly("closed", &ComposeContext::closed)
      .def("stats", [](const ComposeContext& c) {
             const TapCache::Stats t = c.taps().stats();
             py::dict d;
             d["threads"] = c.threads();
             d["workers"] = c.alive_workers();
             d["closed"] = c.closed();
             d["tap_tables"] = t.tables;
             d["tap_bytes"] = t.bytes;
             d["max_tap_tables"] = t.max_tables;
             d["max_tap_bytes"] = t.max_bytes;
             d["hits"] = t.hits;
             d["misses"] = t.misses;
             d["evictions"] = t.evictions;
             return d;
           }, "threads, workers alive, closed, and the tap cache's tables, bytes, bounds, hits, misses, evictions.")
      .def("close", &close_context, "Join the workers and drop the cache; compose refuses the context afterwards.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](ComposeContext& c, py::args) { close_context(c); })
      .def("__repr__", [](const ComposeContext& c) {
             return "<ComposeContext threads=" + std::to_string(c.threads()) + (c.closed() ? " closed>" : ">");
           });
  m.def("default_compose_context", &default_compose_context,
        "The context compose uses without one: as many threads as cores (at most MAX_THREADS).");

  m.def("compose", &compose_py, py::arg("canvas"), py::arg("ops"), py::arg("threads") = 1,
        py::arg("context") = py::none(),
        "Run a display list of fill/scale/border/blend ops on an I420 canvas (GIL released),\n"
        "split into horizontal bands for `threads` threads: the caller and up to threads - 1 of the\n"
        "context's workers (default_compose_context() when None). The whole list is checked first:\n"
        "a refused list (InvalidInputError naming the op) leaves the canvas untouched.");
  m.def("scale_plane", &scale_plane_py, py::arg("src"), py::arg("crop"), py::arg("dst"), py::arg("rect"),
        "Scale src region crop=(x, y, w, h) (floats) into rect=(x, y, w, h) of dst.");

  // Fields convert with a named error (no bare TypeError); their ranges and how they fit
  // together are checked when a detector or mixer is built from them.
  py::class_<DetectorParams> params(m, "DetectorParams", "Speaker-detector parameters (see docs/speaker-detection.md).");
  params.def(py::init<>());
  auto float_field = [&](const char* name, float DetectorParams::*field) {
    params.def_property(name, [field](const DetectorParams& p) { return p.*field; },
                        [field, name](DetectorParams& p, const py::handle& v) { p.*field = arg_float32(v, name); });
  };
  auto int_field = [&](const char* name, int DetectorParams::*field) {
    params.def_property(name, [field](const DetectorParams& p) { return p.*field; },
                        [field, name](DetectorParams& p, const py::handle& v) {
                          p.*field = static_cast<int>(arg_int(v, name, 0, kMaxWindowFrames));
                        });
  };
  float_field("floor_rise_db", &DetectorParams::floor_rise_db);
  float_field("floor_fall", &DetectorParams::floor_fall);
  int_field("floor_window", &DetectorParams::floor_window);
  float_field("floor_percentile", &DetectorParams::floor_percentile);
  float_field("max_rhythm", &DetectorParams::max_rhythm);
  int_field("rhythm_window", &DetectorParams::rhythm_window);
  int_field("rhythm_min_lag", &DetectorParams::rhythm_min_lag);
  int_field("rhythm_max_lag", &DetectorParams::rhythm_max_lag);
  float_field("active_snr_db", &DetectorParams::active_snr_db);
  float_field("active_min_db", &DetectorParams::active_min_db);
  float_field("min_modulation_db", &DetectorParams::min_modulation_db);
  float_field("min_voicing", &DetectorParams::min_voicing);
  int_field("modulation_frames", &DetectorParams::modulation_frames);
  int_field("short_frames", &DetectorParams::short_frames);
  int_field("long_frames", &DetectorParams::long_frames);
  int_field("start_short", &DetectorParams::start_short);
  int_field("stop_silent", &DetectorParams::stop_silent);
  int_field("switch_long", &DetectorParams::switch_long);
  int_field("switch_margin", &DetectorParams::switch_margin);
  int_field("min_dwell", &DetectorParams::min_dwell);
  params.def("check", [](const DetectorParams& p) { check_detector_params(p); },
             "Raise InvalidInputError naming the first field out of range.");

  auto id_of = [](const py::handle& id) {
    return arg_int(id, "id", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  };
  py::class_<AudioMixer>(m, "AudioMixer", "One room's audio core: levels, speaker detection, mix, mix-minus, limiter.")
      .def(py::init([](const py::handle& max_mixed, const py::handle& frame_size, const py::handle& sample_rate,
                       const py::handle& threshold, const py::handle& detector) {
             if (!py::isinstance<DetectorParams>(detector)) {
               throw InvalidInput("detector must be a DetectorParams, got " + type_name(detector));
             }
             MixerConfig c;
             c.max_mixed = static_cast<int>(arg_int(max_mixed, "max_mixed", 1, kMaxMixed));
             c.sample_rate = static_cast<int>(arg_int(sample_rate, "sample_rate", kMinSampleRate, kMaxSampleRate));
             c.frame_size = static_cast<int>(arg_int(frame_size, "frame_size", 1, c.sample_rate));
             c.limiter_threshold = arg_float32(threshold, "threshold");
             c.detector = detector.cast<DetectorParams>();
             return std::make_unique<AudioMixer>(c);
           }),
           py::arg("max_mixed") = 3, py::arg("frame_size") = 960, py::arg("sample_rate") = 48000,
           py::arg("threshold") = 0.891f, py::arg("detector") = DetectorParams())
      .def("add", [id_of](AudioMixer& a, const py::handle& id) { a.add(id_of(id)); }, py::arg("id"))
      .def("remove", [id_of](AudioMixer& a, const py::handle& id) { a.remove(id_of(id)); }, py::arg("id"))
      .def("set_gain", [id_of](AudioMixer& a, const py::handle& id, const py::handle& gain) {
             a.set_gain(id_of(id), arg_float32(gain, "gain"));
           }, py::arg("id"), py::arg("gain"))
      .def("set_muted", [id_of](AudioMixer& a, const py::handle& id, const py::handle& v) {
             a.set_muted(id_of(id), arg_bool(v, "muted"));
           }, py::arg("id"), py::arg("muted"))
      .def("set_forced", [id_of](AudioMixer& a, const py::handle& id, const py::handle& v) {
             a.set_forced(id_of(id), arg_bool(v, "forced"));
           }, py::arg("id"), py::arg("forced"))
      .def("set_speaker_eligible", [id_of](AudioMixer& a, const py::handle& id, const py::handle& v) {
             a.set_speaker_eligible(id_of(id), arg_bool(v, "eligible"));
           }, py::arg("id"), py::arg("eligible"))
      .def("__contains__", [id_of](const AudioMixer& a, const py::handle& id) {
             return PyIndex_Check(id.ptr()) && !PyBool_Check(id.ptr()) && a.has(id_of(id));
           })
      .def("__len__", &AudioMixer::size)
      .def_property_readonly("latency", &AudioMixer::latency, "Samples of limiter look-ahead delay.")
      .def_property_readonly("frame_size", [](const AudioMixer& a) { return a.config().frame_size; })
      .def_property_readonly("max_mixed", [](const AudioMixer& a) { return a.config().max_mixed; })
      .def("process", &mix_frame, py::arg("ids"), py::arg("frames"),
           "Mix one frame: frames[i] is participant ids[i]'s float32 audio; others get a gap.\n"
           "NaN samples count as silence and samples beyond +-MAX_SAMPLE are clipped.");

  m.def("voicing", [](const py::handle& prev, const py::handle& cur, const py::handle& sample_rate) {
    Buffers bufs;
    py::ssize_t rows = 0;
    if (!py::isinstance<py::buffer>(cur)) throw InvalidInput("cur must be a 1-D float32 array");
    auto info = py::reinterpret_borrow<py::buffer>(cur).request();
    if (info.ndim != 1 || info.shape[0] < 1 || info.shape[0] > kMaxSampleRate) {
      throw InvalidInput("cur must be a 1-D float32 array of 1.." + std::to_string(kMaxSampleRate) + " samples");
    }
    const float* c = float_rows(bufs, cur, info.shape[0], rows, "cur");
    const float* p = float_rows(bufs, prev, info.shape[0], rows, "prev (as long as cur)");
    if (rows != 1) throw InvalidInput("prev must be a 1-D float32 array as long as cur");
    const int rate = static_cast<int>(arg_int(sample_rate, "sample_rate", kMinSampleRate, kMaxSampleRate));
    py::gil_scoped_release nogil;
    return voicing(p, c, static_cast<int>(info.shape[0]), rate);
  }, py::arg("prev"), py::arg("cur"), py::arg("sample_rate") = 48000,
     "Voice-pitch periodicity (0..1) of frame `cur` following `prev` (see voicing.h); NaN counts as silence.");

  py::class_<Limiter>(m, "Limiter", "Look-ahead peak limiter (the one each mix goes through).")
      .def(py::init([](const py::handle& lookahead, const py::handle& threshold, const py::handle& release_ms,
                       const py::handle& sample_rate) {
             return std::make_unique<Limiter>(static_cast<int>(arg_int(lookahead, "lookahead", 1, kMaxLookahead)),
                                              arg_float32(threshold, "threshold"), arg_float32(release_ms, "release_ms"),
                                              static_cast<int>(arg_int(sample_rate, "sample_rate", kMinSampleRate,
                                                                       kMaxSampleRate)));
           }),
           py::arg("lookahead") = 64, py::arg("threshold") = 0.891f, py::arg("release_ms") = 80.f,
           py::arg("sample_rate") = 48000)
      .def_property_readonly("latency", &Limiter::latency)
      .def_property_readonly("gain", &Limiter::gain)
      .def_property_readonly("threshold", &Limiter::threshold)
      .def("process", [](Limiter& lim, const py::handle& x) {
        Buffers bufs;
        py::ssize_t rows = 0;
        if (!py::isinstance<py::buffer>(x)) throw InvalidInput("limiter input must be a 1-D float32 array");
        auto info = py::reinterpret_borrow<py::buffer>(x).request();
        const py::ssize_t n = info.ndim == 1 ? info.shape[0] : -1;
        if (n < 0) throw InvalidInput("limiter input must be a 1-D float32 array");
        if (n > std::numeric_limits<int>::max()) throw InvalidInput("limiter input is too long for one call");
        const float* in = float_rows(bufs, x, n, rows, "limiter input");
        py::array_t<float> out(n);
        float* o = out.mutable_data();
        // Keeps the GIL: a Limiter has no lock of its own (the mixer's are guarded by the
        // mixer's), and two threads sharing one must not race on its ring indices.
        lim.process(in, o, static_cast<int>(n));
        return out;
      }, py::arg("samples"), "Limit samples (any float32, NaN as silence); |output| <= threshold.");
}

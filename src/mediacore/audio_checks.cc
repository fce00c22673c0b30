#include "mediacore/audio_checks.h"

#include <cmath>
#include <string>

#include "mediacore/errors.h"
#include "mediacore/limiter.h"

namespace mediacore {
namespace {

void need_int(const char* name, int v, int lo, int hi) {
  if (v < lo || v > hi) {
    throw InvalidInput(std::string(name) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                       std::to_string(v));
  }
}

void need_float(const char* name, float v, float lo, float hi) {
  if (!(v >= lo && v <= hi)) {  // NaN fails
    throw InvalidInput(std::string(name) + " must be a finite number in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got " + std::to_string(v));
  }
}

}  // namespace

void check_detector_params(const DetectorParams& p) {
  need_float("floor_rise_db", p.floor_rise_db, 0.f, 127.f);
  need_float("floor_fall", p.floor_fall, 0.f, 1.f);
  need_int("floor_window", p.floor_window, 1, kMaxWindowFrames);
  need_float("floor_percentile", p.floor_percentile, 0.f, 1.f);
  need_float("max_rhythm", p.max_rhythm, -1e6f, 1e6f);
  need_int("rhythm_window", p.rhythm_window, 2, kMaxWindowFrames);
  need_int("rhythm_min_lag", p.rhythm_min_lag, 1, kMaxWindowFrames);
  need_int("rhythm_max_lag", p.rhythm_max_lag, 1, kMaxWindowFrames);
  if (p.rhythm_max_lag < p.rhythm_min_lag) {
    throw InvalidInput("detector parameters need rhythm_min_lag <= rhythm_max_lag, got " +
                       std::to_string(p.rhythm_min_lag) + " > " + std::to_string(p.rhythm_max_lag));
  }
  need_float("active_snr_db", p.active_snr_db, -1e6f, 1e6f);
  need_float("active_min_db", p.active_min_db, -1e6f, 1e6f);
  need_float("min_modulation_db", p.min_modulation_db, -1e6f, 1e6f);
  need_float("min_voicing", p.min_voicing, 0.f, 1.f);
  need_int("modulation_frames", p.modulation_frames, 1, kMaxWindowFrames);
  need_int("short_frames", p.short_frames, 1, kMaxWindowFrames);
  need_int("long_frames", p.long_frames, 1, kMaxWindowFrames);
  if (p.long_frames < p.short_frames) {
    throw InvalidInput("detector parameters need short_frames <= long_frames, got " + std::to_string(p.short_frames) +
                       " > " + std::to_string(p.long_frames));
  }
  need_int("start_short", p.start_short, 0, kMaxWindowFrames);
  need_int("stop_silent", p.stop_silent, 0, kMaxWindowFrames);
  need_int("switch_long", p.switch_long, 0, kMaxWindowFrames);
  need_int("switch_margin", p.switch_margin, 0, kMaxWindowFrames);
  need_int("min_dwell", p.min_dwell, 0, kMaxWindowFrames);
}

int sanitise_samples(float* x, int n) {
  int changed = 0;
  for (int i = 0; i < n; ++i) {
    const float v = std::isnan(x[i]) ? 0.f : std::fmax(-kMaxSample, std::fmin(kMaxSample, x[i]));
    changed += v != x[i] || std::isnan(x[i]);
    x[i] = v;
  }
  return changed;
}

void check_mixer_config(const MixerConfig& c) {
  need_int("sample_rate", c.sample_rate, kMinSampleRate, kMaxSampleRate);
  need_int("frame_size", c.frame_size, 1, c.sample_rate);
  need_int("max_mixed", c.max_mixed, 1, kMaxMixed);
  need_int("fade", c.fade, 1, c.frame_size);
  need_float("threshold", c.limiter_threshold, 1e-6f, 1.f);
  need_int("limiter lookahead", c.limiter_lookahead, 1, kMaxLookahead);
  need_float("gate_snr_db", c.gate_snr_db, -1e6f, 1e6f);
  need_float("content_min_db", c.content_min_db, -1e6f, 1e6f);
  need_int("gate_hold", c.gate_hold, 0, kMaxWindowFrames);
  check_detector_params(c.detector);
}

}  // namespace mediacore

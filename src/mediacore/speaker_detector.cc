#include "mediacore/speaker_detector.h"

#include <algorithm>
#include <cmath>

#include "mediacore/audio_checks.h"
#include "mediacore/errors.h"

namespace mediacore {

SpeakerDetector::SpeakerDetector(DetectorParams p) : p_(p) {
  check_detector_params(p_);
  if (p_.modulation_frames < 1 || p_.short_frames < 1 || p_.long_frames < p_.short_frames || p_.floor_window < 1 ||
      p_.rhythm_window < 2 || p_.rhythm_min_lag < 1 || p_.rhythm_max_lag < p_.rhythm_min_lag ||
      !(p_.floor_percentile >= 0.f && p_.floor_percentile <= 1.f)) {
    throw InvalidInput("detector parameters need positive windows, short_frames <= long_frames, "
                       "1 <= rhythm_min_lag <= rhythm_max_lag and floor_percentile in [0, 1]");
  }
}

void SpeakerDetector::add(int64_t id) {
  Talker t;
  t.levels.assign(p_.modulation_frames, -127.f);
  t.lsum = -127.0 * p_.modulation_frames;
  t.lsq = 127.0 * 127.0 * p_.modulation_frames;
  t.speech.assign(p_.long_frames, 0);
  t.history.assign(p_.floor_window, -127.f);
  talkers_.emplace(id, std::move(t));
}

void SpeakerDetector::set_eligible(int64_t id, bool eligible) {
  auto it = talkers_.find(id);
  if (it != talkers_.end()) it->second.eligible = eligible;
}

void SpeakerDetector::remove(int64_t id) {
  talkers_.erase(id);
  if (dominant_ == id) dominant_ = -1;
}

const SpeakerDetector::Talker* SpeakerDetector::find(int64_t id) const {
  auto it = talkers_.find(id);
  return it == talkers_.end() ? nullptr : &it->second;
}
bool SpeakerDetector::speaking(int64_t id) const { auto* t = find(id); return t && t->speaking; }
bool SpeakerDetector::active(int64_t id) const { auto* t = find(id); return t && t->active; }
int SpeakerDetector::recent_speech(int64_t id) const { auto* t = find(id); return t ? t->short_count : 0; }
float SpeakerDetector::floor_db(int64_t id) const {
  auto* t = find(id);
  return t ? std::max(t->floor_db, t->percentile_db) : -127.f;
}

bool SpeakerDetector::needs_voicing(int64_t id, float level_db) const {
  return level_db >= p_.active_min_db && level_db - floor_db(id) >= p_.active_snr_db;
}

// Peak normalised autocorrelation of the level history over beat-like lags. Speech
// syllables come irregularly (about 0.1-0.5); music's notes and beats repeat (0.8+).
float SpeakerDetector::rhythm(const Talker& t) const {
  const int H = p_.floor_window, W = std::min(p_.rhythm_window, H);
  thread_local std::vector<double> w;
  w.resize(W);
  double mean = 0;
  for (int i = 0; i < W; ++i) {
    w[i] = std::max(-80.f, t.history[(t.frames + 1 + H - W + i) % H]);  // oldest first
    mean += w[i];
  }
  mean /= W;
  double energy = 1e-9;
  for (double& v : w) {
    v -= mean;
    energy += v * v;
  }
  double best = 0;
  for (int lag = p_.rhythm_min_lag; lag <= p_.rhythm_max_lag && lag < W; ++lag) {
    double acc = 0;
    for (int i = 0; i + lag < W; ++i) acc += w[i] * w[i + lag];
    best = std::max(best, acc / energy);
  }
  return static_cast<float>(best);
}

void SpeakerDetector::update(const std::vector<FrameLevel>& frames, std::vector<SpeakerEvent>& events) {
  for (const auto& [id, level, voiced] : frames) {
    auto it = talkers_.find(id);
    if (it == talkers_.end()) continue;
    Talker& t = it->second;
    // Noise floor: falls fast, rises slowly, so pauses in speech pull it down and only
    // sound that never pauses (fans, music, hum) lifts it.
    if (!t.floor_set) {
      t.floor_db = level;
      t.floor_set = true;
    } else if (level < t.floor_db) {
      t.floor_db += (level - t.floor_db) * p_.floor_fall;
    } else {
      t.floor_db += std::min(level - t.floor_db, p_.floor_rise_db);
    }
    // A low percentile of the last few seconds: speech always has pauses that reach it,
    // music and chatter in the background do not dip as deep. Refreshed every 5 frames.
    t.history[t.frames % p_.floor_window] = level;
    if (t.frames % 5 == 0) {
      thread_local std::vector<float> scratch;
      const int filled = std::min(t.frames + 1, p_.floor_window);
      scratch.assign(t.history.begin(), t.history.begin() + filled);
      const int k = static_cast<int>(p_.floor_percentile * (filled - 1));
      std::nth_element(scratch.begin(), scratch.begin() + k, scratch.end());
      t.percentile_db = scratch[k];
      t.rhythm = filled >= p_.rhythm_window ? rhythm(t) : 0.f;
    }
    const float floor_db = std::max(t.floor_db, t.percentile_db);
    // Syllabic modulation: the std of the level over the modulation window.
    const float old = t.levels[t.lpos];
    t.levels[t.lpos] = level;
    t.lpos = (t.lpos + 1) % p_.modulation_frames;
    t.lsum += level - old;
    t.lsq += static_cast<double>(level) * level - static_cast<double>(old) * old;
    const double n = p_.modulation_frames, mean = t.lsum / n;
    const double modulation = std::sqrt(std::max(0.0, t.lsq / n - mean * mean));

    t.active = level >= p_.active_min_db && level - floor_db >= p_.active_snr_db &&
               modulation >= p_.min_modulation_db && t.rhythm <= p_.max_rhythm && voiced >= p_.min_voicing;
    // Rings of speech flags: the long window holds the short one as its newest entries.
    const int L = p_.long_frames, S = p_.short_frames;
    t.long_count -= t.speech[t.pos];
    t.short_count -= t.speech[(t.pos + L - S) % L];
    t.speech[t.pos] = t.active;
    t.long_count += t.active;
    t.short_count += t.active;
    t.pos = (t.pos + 1) % L;
    ++t.frames;

    t.silent = t.active ? 0 : t.silent + 1;
    if (!t.speaking && t.short_count >= p_.start_short) {
      t.speaking = true;
      events.push_back({SpeakerEvent::kStartedSpeaking, id});
    } else if (t.speaking && t.silent >= p_.stop_silent) {
      t.speaking = false;
      events.push_back({SpeakerEvent::kStoppedSpeaking, id});
    }
  }

  // Dominant speaker: the speaking participant with the most speech in the long window
  // takes over once it has enough of it, clearly more than a dominant still speaking,
  // and not sooner than min_dwell after the last switch.
  ++since_switch_;
  const Talker* dom = find(dominant_);
  const bool dom_holds = dom && dom->eligible && dom->speaking;
  int64_t best = -1;
  int best_count = -1;
  for (const auto& [id, t] : talkers_) {
    if (id == dominant_ || !t.eligible || !t.speaking || t.short_count < p_.start_short) continue;
    if (t.long_count > best_count || (t.long_count == best_count && id < best)) {
      best = id;
      best_count = t.long_count;
    }
  }
  if (best < 0 || best_count < p_.switch_long) return;
  if (dom_holds && best_count < dom->long_count + p_.switch_margin) return;
  if (dom && since_switch_ < p_.min_dwell) return;
  dominant_ = best;
  since_switch_ = 0;
  events.push_back({SpeakerEvent::kSpeakerChanged, best});
}

}  // namespace mediacore

#include "mediacore/audio_mixer.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "mediacore/audio_checks.h"
#include "mediacore/errors.h"
#include "mediacore/simd4.h"
#include "mediacore/voicing.h"

namespace mediacore {
namespace {

// Mean square of each `block`-sample block of a frame into `out` (the last block may be
// shorter); returns the frame's. One pass, two vector accumulators per block. A NaN or
// inf anywhere makes the result non-finite, so this also screens the input.
double block_mean_squares(const float* x, int n, int block, double* out) {
  double total = 0;
  for (int b0 = 0, k = 0; b0 < n; b0 += block, ++k) {
    const int end = std::min(n, b0 + block);
    v4 a0 = {0, 0, 0, 0}, a1 = a0;
    int i = b0;
    for (; i + 8 <= end; i += 8) {
      const v4 u = load4(x + i), w = load4(x + i + 4);
      a0 += u * u;
      a1 += w * w;
    }
    double sq = hsum(a0 + a1);
    for (; i < end; ++i) sq += static_cast<double>(x[i]) * x[i];
    out[k] = sq / (end - b0);
    total += sq;
  }
  return total / n;
}

// out = in x a gain that is g0 until `start`, ramps linearly over `len` samples, then g1.
void ramp(const float* in, float* out, int n, float g0, float g1, int start, int len) {
  const int end = std::min(n, start + len);
  const float step = (g1 - g0) / len;
  for (int s = 0; s < start; ++s) out[s] = in[s] * g0;
  for (int s = start; s < end; ++s) out[s] = in[s] * (g0 + step * (s + 1 - start));
  for (int s = end; s < n; ++s) out[s] = in[s] * g1;
}

// Frame level in dBov: 0 for a full-scale square wave, -127 for digital silence.
float level_dbov(double ms) {
  return ms <= 1e-13 ? -127.f : std::max(-127.f, static_cast<float>(10.0 * std::log10(ms)));
}

}  // namespace

AudioMixer::AudioMixer(MixerConfig c)
    : c_(checked_config(c)),
      detector_(c.detector),
      shared_limiter_(c.limiter_lookahead, c.limiter_threshold, 80.f, c.sample_rate),
      total_(c.frame_size),
      contribution_(c.frame_size) {
  if (c_.frame_size <= 0 || c_.max_mixed < 1 || c_.fade < 1 || c_.fade > c_.frame_size) {
    throw InvalidInput("mixer needs frame_size > 0, max_mixed >= 1 and 1 <= fade <= frame_size");
  }
}

size_t AudioMixer::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, p] : people_) n += !p.leaving;
  return n;
}

bool AudioMixer::has(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = people_.find(id);
  return it != people_.end() && !it->second.leaving;
}

AudioMixer::Participant& AudioMixer::get(int64_t id, const char* what) {
  auto it = people_.find(id);
  if (it == people_.end() || it->second.leaving) {
    throw InvalidInput(std::string(what) + ": participant " + std::to_string(id) + " is not in the mixer");
  }
  return it->second;
}

void AudioMixer::add(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = people_.find(id);
  if (it != people_.end() && !it->second.leaving) {
    throw InvalidInput("participant " + std::to_string(id) + " is already in the mixer");
  }
  if (it != people_.end()) people_.erase(it);  // rejoined while fading out: start afresh
  Participant p;
  p.tail.assign(c_.fade, 0.f);
  p.scratch.assign(c_.frame_size, 0.f);
  p.prev.assign(c_.frame_size, 0.f);
  p.contrib.assign(c_.frame_size, 0.f);
  people_.emplace(id, std::move(p));
  if (detector_.has(id)) detector_.remove(id);
  detector_.add(id);
}

void AudioMixer::remove(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  get(id, "remove").leaving = true;
  detector_.remove(id);
}

void AudioMixer::set_gain(int64_t id, float gain) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!(gain >= 0.f && gain <= 16.f)) {
    throw InvalidInput("gain must be within 0..16, got " + std::to_string(gain));
  }
  get(id, "set_gain").gain = gain;
}

void AudioMixer::set_muted(int64_t id, bool muted) {
  std::lock_guard<std::mutex> lock(mu_);
  Participant& p = get(id, "set_muted");
  p.muted = muted;
  update_eligibility(id, p);
}

void AudioMixer::set_speaker_eligible(int64_t id, bool eligible) {
  std::lock_guard<std::mutex> lock(mu_);
  Participant& p = get(id, "set_speaker_eligible");
  p.eligible = eligible;
  update_eligibility(id, p);
}

void AudioMixer::set_forced(int64_t id, bool forced) {
  std::lock_guard<std::mutex> lock(mu_);
  get(id, "set_forced").forced = forced;
}

void AudioMixer::choose_mix() {
  // The K loudest of those whose gate is open: forced first, then those speaking (or just
  // starting), then any other sound in the slots left (an onset not yet classified, a
  // tone, music on hold). By smoothed level within each tier; the dominant speaker and
  // those already mixed get a head start so the set does not flap.
  std::vector<std::pair<float, int64_t>> rank;
  for (auto& [id, p] : people_) {
    p.in_mix = false;
    if (p.leaving || p.muted || p.gain <= 0.f) continue;
    const bool speech = detector_.speaking(id) || detector_.recent_speech(id) >= 3;
    if (!p.forced && !speech && p.gate == 0) continue;
    float score = p.smoothed_db + (id == detector_.dominant() ? 6.f : 0.f) + (p.applied > 0.f ? 6.f : 0.f) +
                  (speech ? 200.f : 0.f) + (p.forced ? 1000.f : 0.f);
    rank.emplace_back(score, id);
  }
  const size_t k = std::min<size_t>(c_.max_mixed, rank.size());
  std::partial_sort(rank.begin(), rank.begin() + k, rank.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (size_t i = 0; i < k; ++i) people_.at(rank[i].second).in_mix = true;
}

void AudioMixer::process(const int64_t* ids, const float* frames, int n, MixResult& out) {
  std::lock_guard<std::mutex> lock(mu_);
  const int F = c_.frame_size, fade = c_.fade;
  const int nb = (F + fade - 1) / fade;  // gate blocks per frame
  blocks_.resize(static_cast<size_t>(n) * nb);
  // Validate everything first: a bad frame must not leave the room half-updated.
  struct Input {
    const float* x;
    double ms;             // mean square of the frame
    const double* blocks;  // ...and of each of its nb gate blocks
  };
  std::unordered_map<int64_t, Input> input;
  input.reserve(n);
  std::vector<float> clean;  // sanitised copies of frames with NaN/inf/absurd samples
  for (int i = 0; i < n; ++i) {
    get(ids[i], "process");
    const float* x = frames + static_cast<size_t>(i) * F;
    double* blocks = &blocks_[static_cast<size_t>(i) * nb];
    double ms = block_mean_squares(x, F, fade, blocks);
    if (!(ms * F <= kMaxSample * kMaxSample)) {  // NaN, inf or a sample past kMaxSample: sanitise a copy
      if (clean.empty()) clean.resize(static_cast<size_t>(n) * F);
      float* c = clean.data() + static_cast<size_t>(i) * F;
      std::copy(x, x + F, c);
      sanitise_samples(c, F);
      x = c;
      ms = block_mean_squares(x, F, fade, blocks);
    }
    if (!input.emplace(ids[i], Input{x, ms, blocks}).second) {
      throw InvalidInput("participant " + std::to_string(ids[i]) + " appears twice in one frame");
    }
  }

  out = MixResult{};
  std::vector<FrameLevel> levels;
  levels.reserve(people_.size());
  for (auto& [id, p] : people_) {
    auto it = input.find(id);
    const float* x = it == input.end() ? nullptr : it->second.x;
    std::swap(p.prev, p.scratch);
    float* cond = p.scratch.data();
    if (x) {
      std::copy(x, x + F, cond);
      if (!p.had_audio) {  // resuming after a gap: fade in rather than step
        for (int s = 0; s < fade; ++s) cond[s] *= static_cast<float>(s + 1) / (fade + 1);
      }
      std::copy(x + F - fade, x + F, p.tail.begin());
    } else {
      std::fill(cond, cond + F, 0.f);
      if (p.had_audio) {
        // A gap: continue from the last sample with the time-mirrored tail, faded to zero,
        // so the waveform stays continuous (no click) and nothing is repeated audibly.
        for (int s = 0; s < fade; ++s) cond[s] = p.tail[fade - 1 - s] * (static_cast<float>(fade - s) / (fade + 1));
      }
    }
    p.had_audio = x != nullptr;
    const float db = x ? level_dbov(it->second.ms) : -127.f;
    // The mix gate, on `fade`-sample blocks so an onset late in the frame still opens it,
    // against the floor before this frame moves it; a closed gate remembers where it opened.
    p.onset = -1;
    const float gate_db = x ? std::min(std::max(detector_.floor_db(id) + c_.gate_snr_db, c_.detector.active_min_db),
                                       c_.content_min_db)
                            : 127.f;
    bool open = false;
    if (x) {
      const double* blocks = it->second.blocks;
      open = level_dbov(*std::max_element(blocks, blocks + nb)) >= gate_db;
      if (open && p.gate == 0) {
        const double gate_ms = std::pow(10.0, gate_db / 10.0);
        p.onset = static_cast<int>(std::find_if(blocks, blocks + nb, [&](double b) { return b >= gate_ms; }) - blocks) * fade;
      }
    }
    if (open) {
      p.gate = c_.gate_hold;
    } else if (p.gate > 0) {
      --p.gate;
    }
    // Loudness for ranking the mix: fast attack, slow decay (about 0.7 s), so pauses
    // between syllables do not cost a talker its place.
    p.smoothed_db += (db - p.smoothed_db) * (db > p.smoothed_db ? 0.3f : 0.03f);
    if (!p.leaving) {
      // Voicing only where the level could make the frame speech: a few talkers a frame.
      const bool maybe = db >= gate_db && detector_.needs_voicing(id, db);  // gate_db is never above
      const float v = maybe ? voicing(p.prev.data(), cond, F, c_.sample_rate) : 0.f;
      levels.push_back({id, db, v});
      out.ids.push_back(id);
      out.levels.push_back(static_cast<uint8_t>(std::clamp<int>(static_cast<int>(std::lround(-db)), 0, 127)));
    }
  }
  detector_.update(levels, out.events);
  for (int64_t id : out.ids) out.voice.push_back(detector_.active(id));
  out.dominant = detector_.dominant();
  choose_mix();

  // Sum the contributions once in wide accumulators; a mix-minus is total - own.
  std::fill(total_.begin(), total_.end(), 0.0);
  std::vector<int64_t> contributors;
  for (auto& [id, p] : people_) {
    const float target = p.in_mix ? p.gain : 0.f;
    if (p.applied == 0.f && target == 0.f) continue;
    // Linear ramp across the frame: joins, leaves, mutes and K-set changes never click.
    // A talk spurt that opened the gate this frame ramps in over the block before its
    // onset instead, so the onset itself is mixed whole.
    const bool onset = p.applied == 0.f && p.onset >= 0;
    ramp(p.scratch.data(), p.contrib.data(), F, p.applied, target, onset ? std::max(0, p.onset - fade) : 0, onset ? fade : F);
    for (int s = 0; s < F; ++s) total_[s] += p.contrib[s];
    p.applied = target;
    contributors.push_back(id);
  }
  out.shared.resize(F);
  std::vector<float> mixed(F);
  for (int s = 0; s < F; ++s) mixed[s] = static_cast<float>(total_[s]);
  std::unique_ptr<Limiter> shared_before;  // state new mix-minus limiters start from
  for (int64_t id : contributors) {
    if (!people_.at(id).limiter) { shared_before = std::make_unique<Limiter>(shared_limiter_); break; }
  }
  shared_limiter_.process(mixed.data(), out.shared.data(), F);

  for (int64_t id : contributors) {
    Participant& p = people_.at(id);
    if (p.leaving) continue;
    if (!p.limiter) p.limiter = std::make_unique<Limiter>(*shared_before);
    out.mixed.push_back(id);
  }
  out.minus.resize(out.mixed.size() * F);
  for (size_t m = 0; m < out.mixed.size(); ++m) {
    Participant& p = people_.at(out.mixed[m]);
    for (int s = 0; s < F; ++s) mixed[s] = static_cast<float>(total_[s] - p.contrib[s]);
    p.limiter->process(mixed.data(), &out.minus[m * F], F);
  }
  // Forget limiters of those no longer mixed and participants that finished fading out.
  for (auto it = people_.begin(); it != people_.end();) {
    Participant& p = it->second;
    if (std::find(contributors.begin(), contributors.end(), it->first) == contributors.end()) p.limiter.reset();
    if (p.leaving && p.applied == 0.f) {
      it = people_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mediacore

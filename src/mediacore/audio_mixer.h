// One room's audio: metering, speaker detection, the K-loudest mix, mix-minus, limiting.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "mediacore/limiter.h"
#include "mediacore/speaker_detector.h"

namespace mediacore {

struct MixerConfig {
  int sample_rate = 48000;
  int frame_size = 960;       // 20 ms
  int max_mixed = 3;          // K
  int fade = 120;             // samples of fade at gaps and resumes (2.5 ms)
  float limiter_threshold = 0.891f;
  int limiter_lookahead = 64;
  // The mix gate (separate from speech detection, see docs/speaker-detection.md): a
  // participant may be mixed from the first `fade`-sample block that is this far above
  // its noise floor, or above content_min_db whatever the floor (a tone, music on hold,
  // a stethoscope), and for gate_hold frames after the last such block.
  float gate_snr_db = 10.f;
  float content_min_db = -36.f;
  int gate_hold = 50;  // 1 s
  DetectorParams detector;
};

struct MixResult {
  std::vector<int64_t> ids;       // every participant, in the order levels/voice use
  std::vector<uint8_t> levels;    // RFC 6464: 0..127 = -dBov
  std::vector<uint8_t> voice;     // voice activity this frame
  std::vector<int64_t> mixed;     // participants in the mix; each gets its own minus row
  std::vector<float> shared;      // frame_size: what everyone else hears
  std::vector<float> minus;       // mixed.size() x frame_size
  std::vector<SpeakerEvent> events;
  int64_t dominant = -1;
};

class AudioMixer {
 public:
  explicit AudioMixer(MixerConfig c = {});
  void add(int64_t id);
  void remove(int64_t id);  // fades out over the next frame, then forgets
  void set_gain(int64_t id, float gain);
  void set_muted(int64_t id, bool muted);  // muted: neither mixed nor able to take the floor
  // Whether this participant may become the dominant speaker (an auditorium audience may
  // not). It is still mixed and measured either way.
  void set_speaker_eligible(int64_t id, bool eligible);
  // Always in the mix whether or not it sounds like speech (a presenter, a test tune).
  void set_forced(int64_t id, bool forced);
  bool has(int64_t id) const;
  const MixerConfig& config() const { return c_; }
  int latency() const { return c_.limiter_lookahead - 1; }
  size_t size() const;

  // frames: n rows of frame_size samples for participants `ids` (the others get a gap
  // this frame). Validation happens before any state changes.
  void process(const int64_t* ids, const float* frames, int n, MixResult& out);

 private:
  struct Participant {
    float gain = 1.f, applied = 0.f;  // applied: gain at the end of the last frame
    bool muted = false, leaving = false, had_audio = false, in_mix = false, forced = false, eligible = true;
    float smoothed_db = -127.f;
    int gate = 0;       // frames the mix gate stays open; 0: closed
    int onset = -1;     // first sample of the block that opened a closed gate this frame
    std::vector<float> tail;     // last `fade` input samples, for a gap's fade-out
    std::vector<float> scratch;  // this frame's conditioned input
    std::vector<float> prev;     // last frame's, for voicing
    std::vector<float> contrib;  // scratch times this frame's gain ramp: its part of the mix
    std::unique_ptr<Limiter> limiter;  // its mix-minus limiter while it is mixed
  };
  Participant& get(int64_t id, const char* what);
  void update_eligibility(int64_t id, const Participant& p) { detector_.set_eligible(id, p.eligible && !p.muted); }
  void choose_mix();

  MixerConfig c_;
  std::map<int64_t, Participant> people_;  // ordered: deterministic output order
  SpeakerDetector detector_;
  Limiter shared_limiter_;
  std::vector<double> total_;
  std::vector<float> contribution_;
  std::vector<double> blocks_;  // per input row: mean square of each `fade`-sample block
  mutable std::mutex mu_;  // process() runs without the GIL: every public member takes it
};

}  // namespace mediacore

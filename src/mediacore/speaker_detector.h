// Dominant-speaker detection from per-frame levels, with per-participant noise floors.
// The algorithm and its parameters are described in docs/speaker-detection.md.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mediacore {

struct DetectorParams {
  float floor_rise_db = 0.04f;     // per frame (2 dB/s): steady noise and music sink into the floor
  float floor_fall = 0.2f;         // fraction per frame towards a lower level
  int floor_window = 150;          // 3 s of levels: their low percentile is a floor too,
  float floor_percentile = 0.1f;   // so sound that never pauses (music) is not speech
  float max_rhythm = 0.68f;        // level autocorrelation over the last rhythm_window frames
  int rhythm_window = 75;          // (1.5 s) at lags of 160..800 ms above this is a beat:
  int rhythm_min_lag = 8, rhythm_max_lag = 40;  // music, not speech
  float active_snr_db = 10.f;      // a frame is active this far above the participant's floor
  float active_min_db = -62.f;     // ...and above this absolute level (dBov)
  float min_modulation_db = 3.5f;  // level std over the modulation window: speech is syllabic
  float min_voicing = 0.4f;        // pitch periodicity (voicing.h): coughs, slams, clicks are noise
  int modulation_frames = 40;      // 0.8 s
  int short_frames = 15;           // 0.3 s
  int long_frames = 100;           // 2 s
  int start_short = 8;             // speech frames in the short window to start speaking
  int stop_silent = 25;            // frames without speech to stop (0.5 s hangover)
  int switch_long = 25;            // speech frames in the long window to take the floor
  int switch_margin = 20;          // ...and this many more than a still-speaking dominant
  int min_dwell = 50;              // frames between two switches (1 s)
};

// One participant's 20 ms frame as the detector sees it.
struct FrameLevel {
  int64_t id;
  float level_db;     // dBov, -127 for silence or no audio
  float voicing = 0;  // voicing() of the frame; only needed where needs_voicing() says so
};

struct SpeakerEvent {
  enum Kind { kSpeakerChanged, kStartedSpeaking, kStoppedSpeaking } kind;
  int64_t id;
};

class SpeakerDetector {
 public:
  explicit SpeakerDetector(DetectorParams p = {});
  void add(int64_t id);
  void remove(int64_t id);
  bool has(int64_t id) const { return talkers_.count(id) != 0; }
  // An ineligible participant (muted, in an audience) is still measured but never takes
  // the floor, and a dominant that becomes ineligible no longer defends it.
  void set_eligible(int64_t id, bool eligible);

  // Whether a frame at this level could count as speech, so its voicing is worth measuring.
  bool needs_voicing(int64_t id, float level_db) const;
  // One 20 ms frame of every participant. Appends events; query the state below.
  void update(const std::vector<FrameLevel>& frames, std::vector<SpeakerEvent>& events);

  int64_t dominant() const { return dominant_; }
  bool speaking(int64_t id) const;
  bool active(int64_t id) const;       // this frame was speech
  int recent_speech(int64_t id) const;  // speech frames in the short window
  float floor_db(int64_t id) const;  // the noise floor speech must rise above
  const DetectorParams& params() const { return p_; }

 private:
  struct Talker {
    float floor_db = 0.f;
    bool floor_set = false;
    std::vector<float> levels;    // modulation window ring
    std::vector<float> history;   // floor window ring
    float percentile_db = -127.f;
    float rhythm = 0.f;
    double lsum = 0, lsq = 0;
    std::vector<uint8_t> speech;  // long window ring of speech flags
    int pos = 0, lpos = 0, frames = 0;
    int short_count = 0, long_count = 0;
    int silent = 0;
    bool speaking = false, active = false, eligible = true;
  };
  const Talker* find(int64_t id) const;
  float rhythm(const Talker& t) const;

  DetectorParams p_;
  std::unordered_map<int64_t, Talker> talkers_;
  int64_t dominant_ = -1;
  int since_switch_ = 1 << 20;
};

}  // namespace mediacore

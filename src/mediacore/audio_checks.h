// Argument checks for the audio core's constructors: validation at the door, so the
// mixer, detector and limiter can trust their configuration inside.
#pragma once
#include "mediacore/audio_mixer.h"
#include "mediacore/speaker_detector.h"

namespace mediacore {

// Frame windows (in 20 ms frames) are 1..kMaxWindowFrames (10 minutes): each participant
// holds a few rings of this size.
constexpr int kMaxWindowFrames = 30000;
constexpr int kMaxMixed = 64;
// Mixer input samples beyond +-kMaxSample (+36 dBFS) are clipped and NaN counts as
// silence, so one participant's garbage cannot poison the room's mix or levels.
constexpr float kMaxSample = 64.f;

// Throws InvalidInput naming the first bad field: every float finite and in range, every
// window 1..kMaxWindowFrames, short_frames <= long_frames, rhythm lags ordered.
void check_detector_params(const DetectorParams& p);
// sample_rate kMinSampleRate..kMaxSampleRate, frame_size 1..sample_rate (at most 1 s),
// max_mixed 1..kMaxMixed, 1 <= fade <= frame_size, limiter threshold in (0, 1],
// limiter lookahead 1..kMaxLookahead, gate_hold 0..kMaxWindowFrames, finite gate levels,
// and the detector parameters.
void check_mixer_config(const MixerConfig& c);
inline const MixerConfig& checked_config(const MixerConfig& c) { return check_mixer_config(c), c; }

// Replaces NaN with 0 and clips to +-kMaxSample, in place; returns how many samples changed.
int sanitise_samples(float* x, int n);

}  // namespace mediacore

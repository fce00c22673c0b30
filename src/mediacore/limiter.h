// A look-ahead peak limiter: output never exceeds the threshold, gain moves smoothly.
#pragma once
#include <vector>

namespace mediacore {

constexpr int kMinSampleRate = 8000, kMaxSampleRate = 384000;
constexpr int kMaxLookahead = 48000;  // 1 s at 48 kHz

// The gain needed at each input sample is held as a sliding minimum over the look-ahead
// window, released exponentially, then averaged over the window. The average reaches the
// needed gain exactly when the peak leaves the delay line, so no sample clips and the
// gain never steps (no clicks). Below the threshold it is a pure delay (transparent).
// Arguments are checked at construction (InvalidInput): lookahead 1..kMaxLookahead,
// threshold in (0, 1], release_ms in (0, 60000], sample_rate kMinSampleRate..kMaxSampleRate.
// process() takes any float input: NaN counts as silence, +-inf as the largest float, and
// the output never exceeds the threshold in magnitude.
class Limiter {
 public:
  explicit Limiter(int lookahead = 64, float threshold = 0.891f /* -1 dBFS */, float release_ms = 80.f,
                   int sample_rate = 48000);
  void process(const float* in, float* out, int n);
  int latency() const { return lookahead_ - 1; }
  float gain() const { return static_cast<float>(sum_ / lookahead_); }
  float threshold() const { return threshold_; }

 private:
  int lookahead_;
  float threshold_;
  double release_;
  std::vector<float> delay_;       // last lookahead-1 inputs
  int delay_pos_ = 0;
  std::vector<double> avg_ring_;   // last lookahead released gains
  int avg_pos_ = 0;
  double sum_;                     // sum of avg_ring_
  double released_ = 1.0;
  // Sliding minimum of needed gains below 1, as (sample index, gain), increasing gains.
  std::vector<std::pair<long long, double>> minq_;
  int q_head_ = 0, q_size_ = 0;
  long long index_ = 0;
  int settled_ = 0;                // samples since anything below unity entered the average
  std::vector<float> clean_;       // this call's input with non-finite samples replaced
};

}  // namespace mediacore

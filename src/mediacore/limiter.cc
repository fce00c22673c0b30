#include "mediacore/limiter.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "mediacore/errors.h"

namespace mediacore {

namespace {

// Checked before any member is sized from them: Limiter(2**31 - 1) must not ask for 8 GiB.
int checked_lookahead(int lookahead, float threshold, float release_ms, int sample_rate) {
  if (!(sample_rate >= kMinSampleRate && sample_rate <= kMaxSampleRate)) {
    throw InvalidInput("limiter sample_rate must be " + std::to_string(kMinSampleRate) + ".." +
                       std::to_string(kMaxSampleRate) + " Hz, got " + std::to_string(sample_rate));
  }
  if (!(lookahead >= 1 && lookahead <= kMaxLookahead)) {
    throw InvalidInput("limiter lookahead must be 1.." + std::to_string(kMaxLookahead) + " samples, got " +
                       std::to_string(lookahead));
  }
  if (!(threshold > 0.f && threshold <= 1.f)) {  // NaN fails too
    throw InvalidInput("limiter threshold must be in (0, 1] (full scale), got " + std::to_string(threshold));
  }
  if (!(release_ms > 0.f && release_ms <= 60000.f)) {
    throw InvalidInput("limiter release_ms must be in (0, 60000], got " + std::to_string(release_ms));
  }
  return std::max(2, lookahead);
}

}  // namespace

Limiter::Limiter(int lookahead, float threshold, float release_ms, int sample_rate)
    : lookahead_(checked_lookahead(lookahead, threshold, release_ms, sample_rate)),
      threshold_(threshold),
      release_(1.0 - std::exp(-1000.0 / (release_ms * sample_rate))),
      delay_(lookahead_ - 1, 0.f),
      avg_ring_(lookahead_, 1.0),
      sum_(lookahead_),
      minq_(lookahead_ + 1) {
  settled_ = lookahead_;
}

void Limiter::process(const float* in, float* out, int n) {
  const int d = lookahead_ - 1;
  float peak = 0.f;
  bool finite = true;
  for (int i = 0; i < n; ++i) {
    const float a = std::fabs(in[i]);
    peak = std::max(peak, a);
    finite &= a <= FLT_MAX;  // false for NaN and inf
  }
  if (!finite) {
    // Non-finite samples must not poison the state: NaN is silence, +-inf the largest
    // finite float (limited to the threshold like any other peak).
    clean_.assign(in, in + n);
    peak = 0.f;
    for (float& v : clean_) {
      v = std::isnan(v) ? 0.f : std::clamp(v, -FLT_MAX, FLT_MAX);
      peak = std::max(peak, std::fabs(v));
    }
    in = clean_.data();
  }
  if (peak <= threshold_ && q_size_ == 0 && released_ == 1.0 && settled_ >= lookahead_) {
    // At rest and nothing to limit: a plain delay by d samples.
    for (int i = 0; i < n; ++i) {
      out[i] = delay_[delay_pos_];
      delay_[delay_pos_] = in[i];
      delay_pos_ = delay_pos_ + 1 == d ? 0 : delay_pos_ + 1;
    }
    index_ += n;
    return;
  }
  const int cap = static_cast<int>(minq_.size());
  // Aim a hair under the threshold so float rounding of x * g cannot overshoot it.
  const double target = threshold_ * (1.0 - 1e-6);
  for (int i = 0; i < n; ++i, ++index_) {
    const double x = std::fabs(in[i]);
    const double need = x > target ? target / x : 1.0;
    if (q_size_ && minq_[q_head_].first <= index_ - lookahead_) {  // left the window
      q_head_ = (q_head_ + 1) % cap;
      --q_size_;
    }
    if (need < 1.0) {
      while (q_size_ && minq_[(q_head_ + q_size_ - 1) % cap].second >= need) --q_size_;
      minq_[(q_head_ + q_size_) % cap] = {index_, need};
      ++q_size_;
    }
    const double held = q_size_ ? minq_[q_head_].second : 1.0;
    released_ = std::min(held, released_ + (1.0 - released_) * release_);
    if (released_ > 1.0 - 1e-9) released_ = 1.0;
    sum_ += released_ - avg_ring_[avg_pos_];
    avg_ring_[avg_pos_] = released_;
    avg_pos_ = avg_pos_ + 1 == lookahead_ ? 0 : avg_pos_ + 1;
    settled_ = released_ < 1.0 ? 0 : settled_ + 1;
    const float delayed = delay_[delay_pos_];
    delay_[delay_pos_] = in[i];
    delay_pos_ = delay_pos_ + 1 == d ? 0 : delay_pos_ + 1;
    // The running sum keeps ~1e-16 of absolute precision, so a gain near 1e-17 (a 1e17
    // peak) is not exact: the clamp makes "never above the threshold" hold for any input.
    // For signals below ~1e9 the gain is exact to far better than the 1e-6 margin, and
    // the clamp never acts.
    const double y = delayed * (sum_ / lookahead_);
    out[i] = static_cast<float>(std::clamp<double>(y, -threshold_, threshold_));
  }
  if (settled_ >= lookahead_) {  // the ring is all ones again: drop accumulated rounding
    sum_ = lookahead_;
  }
}

}  // namespace mediacore

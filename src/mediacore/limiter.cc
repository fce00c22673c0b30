#include "mediacore/limiter.h"

#include <algorithm>
#include <cmath>

namespace mediacore {

Limiter::Limiter(int lookahead, float threshold, float release_ms, int sample_rate)
    : lookahead_(std::max(2, lookahead)),
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
  for (int i = 0; i < n; ++i) peak = std::max(peak, std::fabs(in[i]));
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
    out[i] = static_cast<float>(delayed * (sum_ / lookahead_));
  }
  if (settled_ >= lookahead_) {  // the ring is all ones again: drop accumulated rounding
    sum_ = lookahead_;
  }
}

}  // namespace mediacore

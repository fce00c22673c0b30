#include "mediacore/voicing.h"

#include "mediacore/simd4.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mediacore {
namespace {

// d[i] = sum of x[i * decim .. i * decim + decim), for i < n.
void box_decimate(const float* x, int decim, int n, float* d) {
  if (decim % 4 == 0) {
    for (int i = 0; i < n; ++i) {
      const float* p = x + static_cast<size_t>(i) * decim;
      v4 s = load4(p);
      for (int k = 4; k < decim; k += 4) s += load4(p + k);
      d[i] = hsum(s);
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    float s = 0.f;
    for (int k = 0; k < decim; ++k) s += x[static_cast<size_t>(i) * decim + k];
    d[i] = s;
  }
}

}  // namespace

float voicing(const float* prev, const float* cur, int n, int sample_rate) {
  const int decim = std::max(1, sample_rate / 4000);
  const int N = n / decim;  // decimated samples per frame
  const double rate = static_cast<double>(sample_rate) / decim;
  const int min_lag = std::max(1, static_cast<int>(rate / 400.0));
  const int max_lag = std::min(N - 1, static_cast<int>(rate / 70.0));
  if (N < 8 || max_lag < min_lag) return 0.f;
  // y: both frames (prev first) decimated by box sums, then first-differenced; 16 zeros
  // after them for the lag blocks below, which may read a little past the frame.
  thread_local std::vector<float> y;
  y.assign(2 * N + 16, 0.f);
  box_decimate(prev, decim, N, y.data());
  box_decimate(cur, decim, N, y.data() + N);
  const float* c = y.data() + N;
  float e_raw = 0;  // of the current frame before differencing
  for (int i = 0; i < N; ++i) e_raw += c[i] * c[i];
  for (int i = 2 * N - 1; i > 0; --i) y[i] -= y[i - 1];
  y[0] = 0.f;
  float e_cur = 0;
  for (int i = 0; i < N; ++i) e_cur += c[i] * c[i];
  // The difference filter's power gain at f is (2 sin(pi f / rate))^2: a frame whose
  // energy sits lower than a 450 Hz tone's would is a thud or a heartbeat, not a voice.
  const double dull = std::pow(2.0 * std::sin(3.14159265358979 * 450.0 / rate), 2.0);
  if (!(e_cur > 1e-20f) || !(e_cur >= dull * e_raw)) return 0.f;  // NaN fails too
  // Cross products, sixteen lags at a time in four registers that stay put across the
  // frame: acc[j] is lag max_lag - j (those past min_lag are computed and ignored).
  const int lags = max_lag - min_lag + 1;
  thread_local std::vector<float> acc;
  acc.assign((lags + 15) / 16 * 16, 0.f);
  for (int j0 = 0; j0 < lags; j0 += 16) {
    v4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    const float* h = c - max_lag + j0;
    for (int i = 0; i < N; ++i) {
      const v4 ci = {c[i], c[i], c[i], c[i]};
      a0 += ci * load4(h + i);
      a1 += ci * load4(h + i + 4);
      a2 += ci * load4(h + i + 8);
      a3 += ci * load4(h + i + 12);
    }
    std::memcpy(&acc[j0], &a0, sizeof a0);
    std::memcpy(&acc[j0 + 4], &a1, sizeof a1);
    std::memcpy(&acc[j0 + 8], &a2, sizeof a2);
    std::memcpy(&acc[j0 + 12], &a3, sizeof a3);
  }
  // Energy of the lagged window y[N-lag, 2N-lag), kept up to date as the lag grows; the
  // best r^2 / e_lag (for r > 0) gives the peak normalised correlation with one sqrt.
  double e_lag = 0;
  for (int i = N - min_lag; i < 2 * N - min_lag; ++i) e_lag += static_cast<double>(y[i]) * y[i];
  double best = 0;
  for (int lag = min_lag; lag <= max_lag; ++lag) {
    if (lag > min_lag) {
      e_lag += static_cast<double>(y[N - lag]) * y[N - lag] - static_cast<double>(y[2 * N - lag]) * y[2 * N - lag];
    }
    const double r = acc[max_lag - lag];
    if (r > 0 && e_lag > 1e-20) best = std::max(best, r * r / e_lag);
  }
  return static_cast<float>(std::min(1.0, std::sqrt(best / e_cur)));
}

}  // namespace mediacore

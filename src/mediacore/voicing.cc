#include "mediacore/voicing.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mediacore {

float voicing(const float* prev, const float* cur, int n, int sample_rate) {
  const int decim = std::max(1, sample_rate / 4000);
  const int N = n / decim;  // decimated samples per frame
  const double rate = static_cast<double>(sample_rate) / decim;
  const int min_lag = std::max(1, static_cast<int>(rate / 400.0));
  const int max_lag = std::min(N - 1, static_cast<int>(rate / 70.0));
  if (N < 8 || max_lag < min_lag) return 0.f;
  // y: both frames (prev first) decimated by box sums, then first-differenced.
  thread_local std::vector<float> y;
  y.assign(2 * N, 0.f);
  for (int f = 0; f < 2; ++f) {
    const float* x = f ? cur : prev;
    float* __restrict d = y.data() + f * N;
    for (int k = 0; k < decim; ++k) {  // independent sums: no long add chains
      for (int i = 0; i < N; ++i) d[i] += x[i * decim + k];
    }
  }
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
  // Cross products for every lag at once: acc[j] is lag max_lag - j. The inner loop is an
  // axpy over contiguous memory (vectorises), not a reduction per lag.
  const int lags = max_lag - min_lag + 1;
  thread_local std::vector<float> acc;
  acc.assign(lags, 0.f);
  float* __restrict a = acc.data();
  for (int i = 0; i < N; ++i) {
    const float ci = c[i];
    const float* __restrict h = c + i - max_lag;
    for (int j = 0; j < lags; ++j) a[j] += ci * h[j];
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
    const double r = a[max_lag - lag];
    if (r > 0 && e_lag > 1e-20) best = std::max(best, r * r / e_lag);
  }
  return static_cast<float>(std::min(1.0, std::sqrt(best / e_cur)));
}

}  // namespace mediacore

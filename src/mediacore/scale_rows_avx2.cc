// AVX2 row functions; this file alone is compiled with -mavx2 and is only called
// after cpu_flags() has seen AVX2. Each falls back to the C row for the tail.
#include <immintrin.h>

#include "mediacore/scale_rows.h"

namespace mediacore {

void FilterRows_AVX2(const uint8_t* const* rows, const int16_t* weight, int ntaps, uint16_t* dst,
                     int width) {
  int i = 0;
  const __m256i round = _mm256_set1_epi32(1 << 7);
  for (; i + 16 <= width; i += 16) {
    __m256i acc_lo = round, acc_hi = round;
    for (int k = 0; k < ntaps; k += 2) {
      // Interleave two source rows so one madd multiplies and adds a pair of taps.
      const __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k] + i)));
      __m256i b = _mm256_setzero_si256();
      uint32_t wb = 0;
      if (k + 1 < ntaps) {
        b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k + 1] + i)));
        wb = static_cast<uint16_t>(weight[k + 1]);
      }
      const __m256i w = _mm256_set1_epi32(static_cast<int>(static_cast<uint16_t>(weight[k]) | (wb << 16)));
      acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
      acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
    }
    // unpacklo/hi split each 128-bit lane; packus puts the 16 results back in order.
    const __m256i out = _mm256_packus_epi32(_mm256_srai_epi32(acc_lo, 8), _mm256_srai_epi32(acc_hi, 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), out);
  }
  FilterRowsRange_C(rows, weight, ntaps, dst, i, width);  // the tail, with no copy of the row pointers
}

void FilterCols_AVX2(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                     uint8_t* dst, int width) {
  // Taps sit in vector lanes (Pillow-SIMD style): one 8-sample load per output pixel,
  // one madd against its 8 weights, horizontal adds to finish. No gathers: they are slow
  // on many cores. Tables with other tap counts take the C row.
  if (ntaps != kColsTapsAVX2) {
    FilterCols_C(src, start, weight, ntaps, dst, width);
    return;
  }
  auto pair = [&](int x) {
    const __m256i s = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(src + start[x + 1]),
                                          reinterpret_cast<const __m128i*>(src + start[x]));
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weight + x * 8));
    return _mm256_madd_epi16(s, w);  // lane 0: 4 partial sums of x, lane 1: of x + 1
  };
  const __m256i round = _mm256_set1_epi32(1 << 19);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    const __m256i h0 = _mm256_hadd_epi32(pair(x), pair(x + 2));
    const __m256i h1 = _mm256_hadd_epi32(pair(x + 4), pair(x + 6));
    // lane 0 holds x, x+2, x+4, x+6 and lane 1 the odd ones; interleave them back.
    __m256i acc = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(h0, h1), order);
    acc = _mm256_srai_epi32(_mm256_add_epi32(acc, round), 20);
    const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + x), _mm_packus_epi16(p16, p16));
  }
  if (x < width) FilterCols_C(src, start + x, weight + x * ntaps, ntaps, dst + x, width - x);
}

void FilterCols2_AVX2(const uint16_t* src, const int32_t* start, const int16_t* weight, int ntaps,
                      uint8_t* dst, int width) {
  if (ntaps != 2) {
    FilterCols_C(src, start, weight, ntaps, dst, width);
    return;
  }
  const __m256i round = _mm256_set1_epi32(1 << 19);
  int x = 0;
  for (; x + 8 <= width; x += 8) {
    // The 8 pairs (s[i], s[i+1]) for i = s0..s0+7 as 32-bit lanes; every output's pair is
    // one of them, so a lane permute fetches all 8 (the caller checked spread8 <= 7).
    const int s0 = start[x];
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + s0));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + s0 + 1));
    const __m256i pairs = _mm256_set_m128i(_mm_unpackhi_epi16(a, b), _mm_unpacklo_epi16(a, b));
    const __m256i idx = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(start + x)), _mm256_set1_epi32(s0));
    const __m256i s = _mm256_permutevar8x32_epi32(pairs, idx);
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weight + 2 * x));
    __m256i acc = _mm256_srai_epi32(_mm256_add_epi32(_mm256_madd_epi16(s, w), round), 20);
    const __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + x), _mm_packus_epi16(p16, p16));
  }
  if (x < width) FilterCols_C(src, start + x, weight + 2 * x, 2, dst + x, width - x);
}

}  // namespace mediacore

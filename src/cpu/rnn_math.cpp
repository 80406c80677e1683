// Float tanh and sigmoid for the CPU recurrent cells: Cephes-style polynomials written so
// the compiler vectorises them, built for AVX-512, AVX2 and baseline x86-64 and picked at
// load time.
#include "cpu/rnn_math.h"

#include <bit>
#include <cstdint>

namespace rnnb::rnn_math {
namespace {

// e^x to about 1 ulp for x in [-87, 88] (clamped outside).
inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;  // ln 2 in two parts for an exact reduction
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

inline float tanh_approx(float x) {
  // Near zero an odd polynomial keeps the relative error small; elsewhere
  // tanh x = 1 - 2 / (e^{2x} + 1).
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * z * p;
  const float large = 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f);
  return z < 0.390625f ? small : large;  // |x| < 0.625
}

}  // namespace

RNNB_CPU_CLONES
void tanh_inplace(float* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = tanh_approx(v[j]);
}

RNNB_CPU_CLONES
void sigmoid_inplace(float* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = 1.0f / (1.0f + exp_approx(-v[j]));
}

}  // namespace rnnb::rnn_math

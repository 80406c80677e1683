// Activation functions over arrays for the CPU recurrent cells. Double uses the standard
// library (the reference precision); float uses a vectorised exp-based form accurate to
// about 2e-7, since the transcendental functions would otherwise cost as much as the
// recurrent matrix products.
#pragma once

#include <cmath>

#include "cpu/cpu_clones.h"

namespace rnnb::rnn_math {

void tanh_inplace(float* v, int n);
void sigmoid_inplace(float* v, int n);

inline void tanh_inplace(double* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = std::tanh(v[j]);
}

inline void sigmoid_inplace(double* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = 1.0 / (1.0 + std::exp(-v[j]));
}

}  // namespace rnnb::rnn_math

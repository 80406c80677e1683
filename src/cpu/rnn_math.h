// Activation functions over arrays for the CPU recurrent cells.
#pragma once

#include <cmath>

namespace rnnb::rnn_math {

template <typename T>
inline void tanh_inplace(T* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = std::tanh(v[j]);
}

template <typename T>
inline void sigmoid_inplace(T* v, int n) {
  for (int j = 0; j < n; ++j) v[j] = T(1) / (T(1) + std::exp(-v[j]));
}

}  // namespace rnnb::rnn_math

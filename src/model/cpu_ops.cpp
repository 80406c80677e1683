// Reference CPU implementations of the kernels' operations (see cpu_ops.h).
#include "model/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rnnb {

template <typename T>
void embedding_forward(const T* table, int embed, const int32_t* tokens, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * embed, table + static_cast<int64_t>(tokens[i]) * embed, sizeof(T) * embed);
}

template <typename T>
void embedding_backward(const T* dout, int embed, const int32_t* tokens, int64_t n, T* dtable) {
  for (int64_t i = 0; i < n; ++i) {
    T* row = dtable + static_cast<int64_t>(tokens[i]) * embed;
    const T* g = dout + i * embed;
    for (int e = 0; e < embed; ++e) row[e] += g[e];
  }
}

template <typename T>
void dropout_forward(const T* in, int64_t n, float p, Rng& rng, T* out, T* mask) {
  if (p <= 0.0f) {
    std::copy(in, in + n, out);
    std::fill(mask, mask + n, T(1));
    return;
  }
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) {
    mask[i] = rng.uniform() < p ? T(0) : scale;
    out[i] = in[i] * mask[i];
  }
}

template <typename T>
double softmax_xent(const T* logits, const uint8_t* labels, int batch, int classes,
                    T* dlogits, int64_t* correct, T* prob_positive) {
  double loss = 0.0;
  for (int b = 0; b < batch; ++b) {
    const T* row = logits + static_cast<int64_t>(b) * classes;
    int best = 0;
    T top = row[0];
    for (int c = 1; c < classes; ++c)
      if (row[c] > top) top = row[c], best = c;
    double total = 0.0;
    for (int c = 0; c < classes; ++c) total += std::exp(static_cast<double>(row[c] - top));
    const int label = labels[b];
    loss += std::log(total) - static_cast<double>(row[label] - top);
    if (correct && best == label) ++*correct;
    if (prob_positive) prob_positive[b] = static_cast<T>(std::exp(static_cast<double>(row[1] - top)) / total);
    if (dlogits) {
      for (int c = 0; c < classes; ++c) {
        double p = std::exp(static_cast<double>(row[c] - top)) / total;
        dlogits[static_cast<int64_t>(b) * classes + c] =
            static_cast<T>((p - (c == label ? 1.0 : 0.0)) / batch);
      }
    }
  }
  return loss;
}

double sum_of_squares(const float* grad, size_t n) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += static_cast<double>(grad[i]) * grad[i];
  return total;
}

void adam_update(float* params, const float* grad, float* m, float* v, size_t n,
                 const OptimConfig& config, int64_t step, float grad_scale) {
  const double bias1 = 1.0 - std::pow(static_cast<double>(config.beta1), static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(static_cast<double>(config.beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(config.lr / bias1);
  const float bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  const float b1 = config.beta1, b2 = config.beta2;
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i] * grad_scale + config.weight_decay * params[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) / bias2_sqrt + config.eps);
  }
}

float clip_scale(double grad_norm, float max_norm) {
  if (max_norm <= 0.0f) return 1.0f;
  return static_cast<float>(std::min(1.0, max_norm / (grad_norm + 1e-6)));
}

#define RNNB_INSTANTIATE(T)                                                                   \
  template void embedding_forward<T>(const T*, int, const int32_t*, int64_t, T*);            \
  template void embedding_backward<T>(const T*, int, const int32_t*, int64_t, T*);           \
  template void dropout_forward<T>(const T*, int64_t, float, Rng&, T*, T*);                  \
  template double softmax_xent<T>(const T*, const uint8_t*, int, int, T*, int64_t*, T*);
RNNB_INSTANTIATE(float)
RNNB_INSTANTIATE(double)
#undef RNNB_INSTANTIATE

}  // namespace rnnb

// Reference CPU implementations of the kernels' operations (see cpu_ops.h).
#include "cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/cpu_clones.h"
#include "util/blas.h"
#include "util/error.h"

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

int64_t word_dropout(int32_t* tokens, int64_t n, float p, Rng& rng) {
  if (p <= 0.0f) return 0;
  int64_t replaced = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] == kPadId || rng.uniform() >= p) continue;
    tokens[i] = kUnkId;
    ++replaced;
  }
  return replaced;
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
void relu_forward(T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], T(0));
}

template <typename T>
void relu_backward(const T* act, T* grad, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!(act[i] > T(0))) grad[i] = T(0);
}

// Element (b, d, h) of the features is element (top_block + d, b, h) of hy.
template <typename T>
void gather_final_hidden(const T* hy, int layers, int dirs, int batch, int hidden, T* features) {
  const int width = dirs * hidden;
  for (int d = 0; d < dirs; ++d) {
    const T* block = hy + (static_cast<size_t>(layers - 1) * dirs + d) * batch * hidden;
    for (int b = 0; b < batch; ++b)
      std::copy_n(block + static_cast<size_t>(b) * hidden, hidden, features + static_cast<size_t>(b) * width + d * hidden);
  }
}

template <typename T>
void scatter_final_hidden_grad(const T* dfeatures, int layers, int dirs, int batch, int hidden, T* dhy) {
  const int width = dirs * hidden;
  std::fill_n(dhy, static_cast<size_t>(layers) * dirs * batch * hidden, T(0));
  for (int d = 0; d < dirs; ++d) {
    T* block = dhy + (static_cast<size_t>(layers - 1) * dirs + d) * batch * hidden;
    for (int b = 0; b < batch; ++b)
      std::copy_n(dfeatures + static_cast<size_t>(b) * width + d * hidden, hidden, block + static_cast<size_t>(b) * hidden);
  }
}

void gather_labels(const uint8_t* labels, const int32_t* reviews, int batch, uint8_t* out) {
  for (int b = 0; b < batch; ++b) out[b] = labels[static_cast<size_t>(reviews[b])];
}

namespace {

// The real steps of sequence b: [first, first + length).
int first_real_step(int length, int steps, Padding padding) {
  return padding == Padding::Pre ? steps - length : 0;
}

}  // namespace

template <typename T>
void pool_forward(Pool pool, const T* y, int width, const int64_t* step_offsets, const int32_t* lengths,
                  int batch, int steps, Padding padding, T* features, int32_t* argmax) {
  RNNB_ASSERT(pool != Pool::Last && width >= 1 && steps >= 1);
  const bool mean = pool == Pool::Mean || pool == Pool::MeanMax;
  const bool max = pool == Pool::Max || pool == Pool::MeanMax;
  const int out_width = pool == Pool::MeanMax ? 2 * width : width;
  const int max_column = pool == Pool::MeanMax ? width : 0;
  for (int b = 0; b < batch; ++b) {
    const int length = lengths[b];
    RNNB_ASSERT(length >= 1 && length <= steps);
    const int first = first_real_step(length, steps, padding);
    T* out = features + static_cast<int64_t>(b) * out_width;
    for (int j = 0; j < width; ++j) {
      T sum = T(0), top = T(0);
      int top_step = first;
      for (int t = first; t < first + length; ++t) {
        const T value = y[(step_offsets[t] + b) * width + j];
        sum += value;
        if (t == first || value > top) top = value, top_step = t;
      }
      if (mean) out[j] = sum / static_cast<T>(length);
      if (max) {
        out[max_column + j] = top;
        argmax[static_cast<int64_t>(b) * width + j] = top_step;
      }
    }
  }
}

template <typename T>
void pool_backward(Pool pool, const T* dfeatures, int width, const int64_t* step_offsets,
                   const int32_t* lengths, int batch, int steps, Padding padding, const int32_t* argmax,
                   T* dy) {
  RNNB_ASSERT(pool != Pool::Last && width >= 1 && steps >= 1);
  const bool mean = pool == Pool::Mean || pool == Pool::MeanMax;
  const bool max = pool == Pool::Max || pool == Pool::MeanMax;
  const int in_width = pool == Pool::MeanMax ? 2 * width : width;
  const int max_column = pool == Pool::MeanMax ? width : 0;
  std::fill(dy, dy + step_offsets[steps] * width, T(0));
  for (int b = 0; b < batch; ++b) {
    const int length = lengths[b];
    const int first = first_real_step(length, steps, padding);
    const T* df = dfeatures + static_cast<int64_t>(b) * in_width;
    for (int j = 0; j < width; ++j) {
      const T share = mean ? df[j] / static_cast<T>(length) : T(0);
      const int top_step = max ? argmax[static_cast<int64_t>(b) * width + j] : -1;
      for (int t = first; t < first + length; ++t)
        dy[(step_offsets[t] + b) * width + j] = share + (t == top_step ? df[max_column + j] : T(0));
    }
  }
}

template <typename T>
void head_forward(const T* features, int batch, int F, int hidden, int classes, const T* hidden_w,
                  const T* hidden_b, const T* out_w, const T* out_b, T* act, T* logits) {
  const T* input = features;
  int width = F;
  if (hidden > 0) {
    for (int b = 0; b < batch; ++b) std::copy_n(hidden_b, hidden, act + static_cast<int64_t>(b) * hidden);
    gemm(Trans::No, Trans::Yes, batch, hidden, F, T(1), features, F, hidden_w, F, T(1), act, hidden);
    relu_forward(act, static_cast<int64_t>(batch) * hidden);
    input = act;
    width = hidden;
  }
  for (int b = 0; b < batch; ++b) std::copy_n(out_b, classes, logits + static_cast<int64_t>(b) * classes);
  gemm(Trans::No, Trans::Yes, batch, classes, width, T(1), input, width, out_w, width, T(1), logits, classes);
}

template <typename T>
void head_backward(const T* features, const T* act, const T* dlogits, int batch, int F, int hidden,
                   int classes, const T* hidden_w, const T* out_w, T* dhidden_w, T* dhidden_b, T* dout_w,
                   T* dout_b, T* dfeatures, T* dact) {
  const T* input = hidden > 0 ? act : features;
  const int width = hidden > 0 ? hidden : F;
  // Output layer: dW = dlogits^T input, db = column sums, d(input) = dlogits W.
  gemm(Trans::Yes, Trans::No, classes, width, batch, T(1), dlogits, classes, input, width, T(0), dout_w, width);
  std::fill(dout_b, dout_b + classes, T(0));
  for (int b = 0; b < batch; ++b)
    for (int c = 0; c < classes; ++c) dout_b[c] += dlogits[static_cast<int64_t>(b) * classes + c];
  T* dinput = hidden > 0 ? dact : dfeatures;
  gemm(Trans::No, Trans::No, batch, width, classes, T(1), dlogits, classes, out_w, width, T(0), dinput, width);
  if (hidden == 0) return;
  // Through the ReLU (gradient 0 where the unit was not positive), then the hidden layer.
  relu_backward(act, dact, static_cast<int64_t>(batch) * hidden);
  gemm(Trans::Yes, Trans::No, hidden, F, batch, T(1), dact, hidden, features, F, T(0), dhidden_w, F);
  std::fill(dhidden_b, dhidden_b + hidden, T(0));
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < hidden; ++h) dhidden_b[h] += dact[static_cast<int64_t>(b) * hidden + h];
  gemm(Trans::No, Trans::No, batch, F, hidden, T(1), dact, hidden, hidden_w, F, T(0), dfeatures, F);
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

// Eight partial sums in a fixed order: the loop vectorises without reassociating anything,
// so the result does not depend on the run.
RNNB_CPU_CLONES
double sum_of_squares(const float* grad, size_t n) {
  constexpr size_t kPartials = 8;
  double partial[kPartials] = {};
  size_t i = 0;
  for (; i + kPartials <= n; i += kPartials)
    for (size_t k = 0; k < kPartials; ++k) partial[k] += static_cast<double>(grad[i + k]) * grad[i + k];
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(grad[i]) * grad[i];
  for (double part : partial) total += part;
  return total;
}

// Memory-bound once vectorised (7 floats moved per parameter); the settings are copied to
// locals and the arrays are restrict, or the compiler must reload them after every store.
RNNB_CPU_CLONES
void adam_update(float* __restrict params, const float* __restrict grad, float* __restrict m, float* __restrict v,
                 size_t n, const OptimConfig& config, int64_t step, float grad_scale) {
  const double bias1 = 1.0 - std::pow(static_cast<double>(config.beta1), static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(static_cast<double>(config.beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(config.lr / bias1);
  const float bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  const float b1 = config.beta1, b2 = config.beta2, decay = config.weight_decay, eps = config.eps;
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i] * grad_scale + decay * params[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) / bias2_sqrt + eps);
  }
}

float clip_scale(double grad_norm, float max_norm) {
  if (max_norm <= 0.0f) return 1.0f;
  return static_cast<float>(std::min(1.0, max_norm / (grad_norm + 1e-6)));
}

#define RNNB_INSTANTIATE(T)                                                                   \
  template void embedding_forward<T>(const T*, int, const int32_t*, int64_t, T*);            \
  template void relu_forward<T>(T*, int64_t);                                                 \
  template void relu_backward<T>(const T*, T*, int64_t);                                      \
  template void gather_final_hidden<T>(const T*, int, int, int, int, T*);                     \
  template void scatter_final_hidden_grad<T>(const T*, int, int, int, int, T*);               \
  template void embedding_backward<T>(const T*, int, const int32_t*, int64_t, T*);           \
  template void dropout_forward<T>(const T*, int64_t, float, Rng&, T*, T*);                  \
  template void pool_forward<T>(Pool, const T*, int, const int64_t*, const int32_t*, int, int, Padding, T*,    \
                                int32_t*);                                                    \
  template void pool_backward<T>(Pool, const T*, int, const int64_t*, const int32_t*, int, int, Padding,       \
                                 const int32_t*, T*);                                         \
  template void head_forward<T>(const T*, int, int, int, int, const T*, const T*, const T*, const T*, T*, T*); \
  template void head_backward<T>(const T*, const T*, const T*, int, int, int, int, const T*, const T*, T*, T*,  \
                                 T*, T*, T*, T*);                                             \
  template double softmax_xent<T>(const T*, const uint8_t*, int, int, T*, int64_t*, T*);
RNNB_INSTANTIATE(float)
RNNB_INSTANTIATE(double)
#undef RNNB_INSTANTIATE

}  // namespace rnnb

// Reference CPU implementations of the operations the CUDA kernels in kernels/ perform:
// embedding gather and its gradient, dropout, softmax cross-entropy, global-norm clipping
// and Adam. They are the specification: the GPU tests compare each kernel against these.
#pragma once

#include <cstdint>

#include "model/model_config.h"
#include "util/rng.h"

namespace rnnb {

// out[n x E] = table[tokens[n]]
template <typename T>
void embedding_forward(const T* table, int embed, const int32_t* tokens, int64_t n, T* out);

// dtable[tokens[n]] += dout[n], in token order (deterministic).
template <typename T>
void embedding_backward(const T* dout, int embed, const int32_t* tokens, int64_t n, T* dtable);

// Inverted dropout: keep with probability 1-p and scale by 1/(1-p); mask gets the scale
// (0 or 1/(1-p)) so backward multiplies by it. p == 0 copies and fills mask with 1.
template <typename T>
void dropout_forward(const T* in, int64_t n, float p, Rng& rng, T* out, T* mask);

// Mean softmax cross-entropy over a batch of logits [batch x classes]. Returns the summed
// (not averaged) loss; counts correct argmax predictions; writes dlogits of the *mean*
// loss (softmax - onehot) / batch when dlogits is non-null; writes P(class 1) when
// prob_positive is non-null.
template <typename T>
double softmax_xent(const T* logits, const uint8_t* labels, int batch, int classes,
                    T* dlogits, int64_t* correct, T* prob_positive);

// Sum of squares of a gradient vector (in double, for a stable norm).
double sum_of_squares(const float* grad, size_t n);

// One Adam step with torch.optim.Adam's semantics (bias-corrected, eps outside the sqrt,
// weight decay added to the gradient). `step` is the 1-based step count after this update.
// grad_scale multiplies every gradient first (global-norm clipping).
void adam_update(float* params, const float* grad, float* m, float* v, size_t n,
                 const OptimConfig& config, int64_t step, float grad_scale);

// The factor that clipping multiplies gradients by: min(1, max_norm / (norm + 1e-6)),
// torch.nn.utils.clip_grad_norm_'s formula; 1 when max_norm is 0.
float clip_scale(double grad_norm, float max_norm);

}  // namespace rnnb

// Reference CPU implementations of the operations the CUDA kernels in kernels/ perform:
// embedding gather and its gradient, word dropout, dropout, final-state and label gathers, pooling over
// time, the head and its ReLU, softmax cross-entropy, global-norm clipping, the non-finite
// step guard and Adam. (fp16 conversion, kernels/precision.h, has cuda_fp16.h's host
// conversions as its twin.) They are the
// specification: the CPU backend runs them, and the GPU tests compare each kernel with them.
// (The kernels' batch layout comes from data/batching.h: assemble_tokens, step_row_offsets.)
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "data/batching.h"
#include "model/model_config.h"
#include "util/rng.h"

namespace rnnb {

// out[n x E] = table[tokens[n]]
template <typename T>
void embedding_forward(const T* table, int embed, const int32_t* tokens, int64_t n, T* out);

// dtable[tokens[n]] += dout[n], in token order (deterministic).
template <typename T>
void embedding_backward(const T* dout, int embed, const int32_t* tokens, int64_t n, T* dtable);

// Word dropout: each token other than <pad> becomes <unk> with probability p (the model
// reads "a word was here" in its place). Returns how many were replaced.
int64_t word_dropout(int32_t* tokens, int64_t n, float p, Rng& rng);

// Inverted dropout: keep with probability 1-p and scale by 1/(1-p); mask gets the scale
// (0 or 1/(1-p)) so backward multiplies by it. p == 0 copies and fills mask with 1.
template <typename T>
void dropout_forward(const T* in, int64_t n, float p, Rng& rng, T* out, T* mask);

// x = max(x, 0) in place; its gradient zeroes grad wherever the unit was not positive.
template <typename T>
void relu_forward(T* x, int64_t n);
template <typename T>
void relu_backward(const T* act, T* grad, int64_t n);

// features [batch x dirs*hidden] = the top layer's final state of each direction, forward
// then reverse, from hy [layers*dirs x batch x hidden] (cuDNN's hy layout).
template <typename T>
void gather_final_hidden(const T* hy, int layers, int dirs, int batch, int hidden, T* features);
// Its gradient: zeroes all of dhy, then writes the top layer's blocks from dfeatures.
template <typename T>
void scatter_final_hidden_grad(const T* dfeatures, int layers, int dirs, int batch, int hidden, T* dhy);

// out[b] = labels[reviews[b]]: the batch's labels from its split's.
void gather_labels(const uint8_t* labels, const int32_t* reviews, int batch, uint8_t* out);

// Pooling of the top layer's outputs y [rows x width] (time-major: sequence b at step t is
// row step_offsets[t] + b) over each sequence's real positions: steps [0, lengths[b]) when
// packed or post-padded, [steps - lengths[b], steps) when pre-padded. Mean and Max write
// features [batch x width]; MeanMax writes [batch x 2*width], the mean then the max. Max
// and MeanMax record in argmax [batch x width] the step of each maximum (the first on
// ties); argmax may be null for Mean. Pool::Last is not a pooling of y (see the backends).
template <typename T>
void pool_forward(Pool pool, const T* y, int width, const int64_t* step_offsets, const int32_t* lengths,
                  int batch, int steps, Padding padding, T* features, int32_t* argmax);

// The gradient: overwrites all of dy [step_offsets[steps] x width] with dfeatures/length on
// every real row (mean), plus dfeatures at the argmax step (max), and zero elsewhere.
template <typename T>
void pool_backward(Pool pool, const T* dfeatures, int width, const int64_t* step_offsets,
                   const int32_t* lengths, int batch, int steps, Padding padding, const int32_t* argmax,
                   T* dy);

// The classifier head on features [batch x F]. Without a hidden layer (hidden == 0):
// logits = features out_w^T + out_b, out_w [C x F]. With one: act = relu(features
// hidden_w^T + hidden_b) [batch x hidden], hidden_w [hidden x F]; logits = act out_w^T +
// out_b, out_w [C x hidden]. act may be null when hidden == 0.
template <typename T>
void head_forward(const T* features, int batch, int F, int hidden, int classes, const T* hidden_w,
                  const T* hidden_b, const T* out_w, const T* out_b, T* act, T* logits);

// Its gradients from dlogits [batch x C]: OVERWRITES dout_w, dout_b, dhidden_w, dhidden_b
// (the hidden ones only when hidden > 0) and dfeatures [batch x F]. dact is scratch
// [batch x hidden].
template <typename T>
void head_backward(const T* features, const T* act, const T* dlogits, int batch, int F, int hidden,
                   int classes, const T* hidden_w, const T* out_w, T* dhidden_w, T* dhidden_b, T* dout_w,
                   T* dout_b, T* dfeatures, T* dact);

// Mean softmax cross-entropy over a batch of logits [batch x classes]. Returns the summed
// (not averaged) loss; counts correct argmax predictions; writes dlogits of the *mean*
// loss (softmax - onehot) / batch when dlogits is non-null; writes P(class 1) when
// prob_positive is non-null.
template <typename T>
double softmax_xent(const T* logits, const uint8_t* labels, int batch, int classes,
                    T* dlogits, int64_t* correct, T* prob_positive);

// Sum of squares of a gradient vector (in double, for a stable norm).
double sum_of_squares(const float* grad, size_t n);

// Whether a training step may update: its loss and its gradient's sum of squares are both
// finite (kernels/nonfinite.h decides the same on the device).
inline bool step_is_finite(double loss, double sum_of_squares) {
  return std::isfinite(loss) && std::isfinite(sum_of_squares);
}

// One Adam step with torch.optim.Adam's semantics (bias-corrected, eps outside the sqrt,
// weight decay added to the gradient). `step` is the 1-based step count after this update.
// grad_scale multiplies every gradient first (global-norm clipping).
void adam_update(float* params, const float* grad, float* m, float* v, size_t n,
                 const OptimConfig& config, int64_t step, float grad_scale);

// The factor that clipping multiplies gradients by: min(1, max_norm / (norm + 1e-6)),
// torch.nn.utils.clip_grad_norm_'s formula; 1 when max_norm is 0.
float clip_scale(double grad_norm, float max_norm);

}  // namespace rnnb

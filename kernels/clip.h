// Global gradient-norm clipping on the device: the sum of squares of the flat gradient in
// double, in a fixed reduction order (the same result every run for the same input), then
// the clipping factor (with the loss scale's undoing folded in) written to device memory for
// adam_step to read.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace rnnb::cuda {

// Blocks of the first reduction pass: the size of the partials scratch, in doubles.
inline constexpr int kSumOfSquaresBlocks = 256;

// *sum_of_squares = sum of grad[i]^2 (double). partials holds kSumOfSquaresBlocks doubles.
void grad_sum_of_squares(const float* grad, size_t n, double* partials, double* sum_of_squares,
                         cudaStream_t stream);

// The factor adam_step multiplies the gradient by, for a gradient that was computed
// multiplied by `loss_scale` (fp16 loss scaling; 1 = unscaled): the true norm is
// sqrt(*sum_of_squares) / loss_scale, and
//   *scale = min(1, max_norm / (true norm + 1e-6)) / loss_scale
// (the clip factor of clip_scale in cpu/cpu_ops.h, 1 when max_norm <= 0, times the
// unscaling), so clipping sees the true norm and one factor does both. *norm gets the true
// norm when norm is non-null.
void grad_clip_scale(const double* sum_of_squares, float max_norm, float loss_scale, float* scale,
                     float* norm, cudaStream_t stream);

}  // namespace rnnb::cuda

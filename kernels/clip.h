// Global gradient-norm clipping on the device: the sum of squares of the flat gradient in
// double, in a fixed reduction order (the same result every run for the same input), then
// the clipping factor written to device memory for adam_step to read.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace rnnb::cuda {

// Blocks of the first reduction pass: the size of the partials scratch, in doubles.
inline constexpr int kSumOfSquaresBlocks = 256;

// *sum_of_squares = sum of grad[i]^2 (double). partials holds kSumOfSquaresBlocks doubles.
void grad_sum_of_squares(const float* grad, size_t n, double* partials, double* sum_of_squares,
                         cudaStream_t stream);

// *scale = min(1, max_norm / (sqrt(*sum_of_squares) + 1e-6)), or 1 when max_norm <= 0 (the
// formula of clip_scale in model/cpu_ops.h); *norm gets the norm when norm is non-null.
void grad_clip_scale(const double* sum_of_squares, float max_norm, float* scale, float* norm,
                     cudaStream_t stream);

// Both of the above in sequence.
inline void grad_clip(const float* grad, size_t n, float max_norm, double* partials,
                      double* sum_of_squares, float* scale, float* norm, cudaStream_t stream) {
  grad_sum_of_squares(grad, n, partials, sum_of_squares, stream);
  grad_clip_scale(sum_of_squares, max_norm, scale, norm, stream);
}

}  // namespace rnnb::cuda

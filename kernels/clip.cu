// Gradient-norm reduction and clipping-factor kernels (see clip.h).
#include "kernels/clip.h"

#include <cstdint>

#include "cuda/cuda_check.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

constexpr int kThreads = 256;  // a power of two, for the tree reduction

// Tree sum of one value per thread, in a fixed order; every thread returns the total.
__device__ double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// Pass 1: each of a fixed number of blocks sums a fixed strided subset of the elements.
__global__ void partial_squares_kernel(const float* __restrict__ grad, int64_t n,
                                       double* __restrict__ partials) {
  __shared__ double shared[kThreads];
  double sum = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(kSumOfSquaresBlocks) * kThreads) {
    const double g = grad[i];
    sum += g * g;
  }
  const double total = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Pass 2: one block adds the partials.
__global__ void final_sum_kernel(const double* __restrict__ partials, double* __restrict__ result) {
  __shared__ double shared[kThreads];
  double sum = 0.0;
  for (int i = threadIdx.x; i < kSumOfSquaresBlocks; i += kThreads) sum += partials[i];
  const double total = block_sum(sum, shared);
  if (threadIdx.x == 0) *result = total;
}

__global__ void clip_scale_kernel(const double* __restrict__ sum_of_squares, float max_norm,
                                  float loss_scale, float* __restrict__ scale,
                                  float* __restrict__ norm) {
  const double grad_norm = sqrt(*sum_of_squares) / loss_scale;
  if (norm) *norm = static_cast<float>(grad_norm);
  const float clip = max_norm <= 0.0f ? 1.0f
                                      : static_cast<float>(fmin(1.0, max_norm / (grad_norm + 1e-6)));
  // A power-of-two loss scale makes this division exact: unscaled runs get `clip` itself.
  *scale = clip / loss_scale;
}

}  // namespace

void grad_sum_of_squares(const float* grad, size_t n, double* partials, double* sum_of_squares,
                         cudaStream_t stream) {
  partial_squares_kernel<<<kSumOfSquaresBlocks, kThreads, 0, stream>>>(
      grad, static_cast<int64_t>(n), partials);
  CUDA_CHECK_LAUNCH();
  final_sum_kernel<<<1, kThreads, 0, stream>>>(partials, sum_of_squares);
  CUDA_CHECK_LAUNCH();
}

void grad_clip_scale(const double* sum_of_squares, float max_norm, float loss_scale, float* scale,
                     float* norm, cudaStream_t stream) {
  RNNB_ASSERT(loss_scale > 0.0f);
  clip_scale_kernel<<<1, 1, 0, stream>>>(sum_of_squares, max_norm, loss_scale, scale, norm);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

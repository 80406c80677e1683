// ReLU forward and backward, elementwise (see relu.h).
#include "kernels/relu.h"

#include "cuda/cuda_check.h"
#include "kernels/launch.h"

namespace rnnb::cuda {
namespace {

__global__ void relu_kernel(float* __restrict__ x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = x[i] < 0.0f ? 0.0f : x[i];  // std::max(x, 0) of the CPU reference, NaN kept
}

__global__ void relu_grad_kernel(const float* __restrict__ act, float* __restrict__ grad, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (!(act[i] > 0.0f)) grad[i] = 0.0f;
}

}  // namespace

void relu_forward(float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  relu_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(x, n);
  CUDA_CHECK_LAUNCH();
}

void relu_backward(const float* act, float* grad, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  relu_grad_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(act, grad, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

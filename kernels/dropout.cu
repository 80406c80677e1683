// Dropout kernels (see dropout.h).
#include "kernels/dropout.h"

#include "cuda/cuda_check.h"
#include "data/tokenized_split.h"
#include "kernels/launch.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

__host__ __device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A splitmix64 stream keyed by (seed, step): element i is its (i+1)-th output.
__global__ void dropout_forward_kernel(const float* in, int64_t n, float p,
                                       float scale, uint64_t key, float* out,
                                       float* __restrict__ mask) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = mix64(key + (static_cast<uint64_t>(i) + 1) * kGolden);
    const float uniform = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    const float keep = uniform < p ? 0.0f : scale;
    mask[i] = keep;
    out[i] = in[i] * keep;
  }
}

__global__ void word_dropout_kernel(int32_t* tokens, int64_t n, float p, uint64_t key) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = mix64(key + (static_cast<uint64_t>(i) + 1) * kGolden);
    const float uniform = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    if (uniform < p && tokens[i] != kPadId) tokens[i] = kUnkId;
  }
}

__global__ void fill_kernel(float* __restrict__ out, int64_t n, float value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = value;
}

__global__ void multiply_kernel(const float* dout, const float* __restrict__ mask, int64_t n,
                                float* din) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    din[i] = dout[i] * mask[i];
}

}  // namespace

void dropout_forward(const float* in, int64_t n, float p, uint64_t seed, uint64_t step,
                     float* out, float* mask, cudaStream_t stream) {
  RNNB_ASSERT(n >= 0 && p >= 0.0f && p < 1.0f);
  if (n == 0) return;
  if (p == 0.0f) {
    if (out != in)
      CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(n) * sizeof(float),
                                 cudaMemcpyDeviceToDevice, stream));
    fill_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(mask, n, 1.0f);
    CUDA_CHECK_LAUNCH();
    return;
  }
  const float scale = 1.0f / (1.0f - p);
  const uint64_t key = mix64(seed ^ mix64(step + kGolden));
  dropout_forward_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(in, n, p, scale, key, out, mask);
  CUDA_CHECK_LAUNCH();
}

void word_dropout(int32_t* tokens, int64_t n, float p, uint64_t seed, uint64_t step, cudaStream_t stream) {
  RNNB_ASSERT(n >= 0 && p >= 0.0f && p < 1.0f);
  if (n == 0 || p == 0.0f) return;
  const uint64_t key = mix64(seed ^ mix64(step + kGolden));
  word_dropout_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(tokens, n, p, key);
  CUDA_CHECK_LAUNCH();
}

void dropout_backward(const float* dout, const float* mask, int64_t n, float* din,
                      cudaStream_t stream) {
  RNNB_ASSERT(n >= 0);
  if (n == 0) return;
  multiply_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(dout, mask, n, din);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

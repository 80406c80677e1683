// Pooling over time (see pool.h). One thread per (sequence, column): it walks that
// sequence's real steps in order, so sums run in the CPU reference's order and every dy
// element has exactly one writer (no atomics, reproducible).
#include "kernels/pool.h"

#include "cuda/cuda_check.h"
#include "kernels/launch.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

constexpr int kPre = static_cast<int>(Padding::Pre);

__device__ inline int first_real_step(int length, int steps, int padding) {
  return padding == kPre ? steps - length : 0;
}

__global__ void pool_kernel(const float* __restrict__ y, int width, const int64_t* __restrict__ step_offsets,
                            const int32_t* __restrict__ lengths, int batch, int steps, int padding, bool mean,
                            bool max, float* __restrict__ features, int32_t* __restrict__ argmax) {
  const int64_t total = static_cast<int64_t>(batch) * width;
  const int out_width = mean && max ? 2 * width : width;
  const int max_column = mean && max ? width : 0;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int b = static_cast<int>(idx / width);
    const int j = static_cast<int>(idx - static_cast<int64_t>(b) * width);
    const int length = lengths[b];
    const int first = first_real_step(length, steps, padding);
    float sum = 0.0f, top = 0.0f;
    int top_step = first;
    for (int t = first; t < first + length; ++t) {
      const float value = y[(step_offsets[t] + b) * width + j];
      sum += value;
      if (t == first || value > top) top = value, top_step = t;
    }
    float* out = features + static_cast<int64_t>(b) * out_width;
    if (mean) out[j] = sum / static_cast<float>(length);
    if (max) {
      out[max_column + j] = top;
      argmax[idx] = top_step;
    }
  }
}

__global__ void pool_grad_kernel(const float* __restrict__ dfeatures, int width,
                                 const int64_t* __restrict__ step_offsets, const int32_t* __restrict__ lengths,
                                 int batch, int steps, int padding, bool mean, bool max,
                                 const int32_t* __restrict__ argmax, float* __restrict__ dy) {
  const int64_t total = static_cast<int64_t>(batch) * width;
  const int in_width = mean && max ? 2 * width : width;
  const int max_column = mean && max ? width : 0;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int b = static_cast<int>(idx / width);
    const int j = static_cast<int>(idx - static_cast<int64_t>(b) * width);
    const int length = lengths[b];
    const int first = first_real_step(length, steps, padding);
    const float* df = dfeatures + static_cast<int64_t>(b) * in_width;
    const float share = mean ? df[j] / static_cast<float>(length) : 0.0f;
    const int top_step = max ? argmax[idx] : -1;
    const float top_grad = max ? df[max_column + j] : 0.0f;
    for (int t = first; t < first + length; ++t)
      dy[(step_offsets[t] + b) * width + j] = share + (t == top_step ? top_grad : 0.0f);
  }
}

void check_arguments(Pool pool, int width, int batch, int steps, Padding padding) {
  RNNB_ASSERT(pool != Pool::Last && width >= 1 && batch >= 0 && steps >= 1);
  RNNB_ASSERT(padding == Padding::Packed || padding == Padding::Pre || padding == Padding::Post);
}

}  // namespace

void pool_outputs(Pool pool, const float* y, int width, const int64_t* step_offsets, const int32_t* lengths,
                  int batch, int steps, Padding padding, float* features, int32_t* argmax,
                  cudaStream_t stream) {
  check_arguments(pool, width, batch, steps, padding);
  const bool mean = pool == Pool::Mean || pool == Pool::MeanMax;
  const bool max = pool == Pool::Max || pool == Pool::MeanMax;
  RNNB_ASSERT(!max || argmax != nullptr);
  const int64_t total = static_cast<int64_t>(batch) * width;
  if (total == 0) return;
  pool_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(y, width, step_offsets, lengths, batch, steps,
                                                          static_cast<int>(padding), mean, max, features, argmax);
  CUDA_CHECK_LAUNCH();
}

void pool_outputs_grad(Pool pool, const float* dfeatures, int width, const int64_t* step_offsets,
                       const int32_t* lengths, int batch, int steps, Padding padding, const int32_t* argmax,
                       int64_t rows, float* dy, cudaStream_t stream) {
  check_arguments(pool, width, batch, steps, padding);
  const bool mean = pool == Pool::Mean || pool == Pool::MeanMax;
  const bool max = pool == Pool::Max || pool == Pool::MeanMax;
  RNNB_ASSERT(!max || argmax != nullptr);
  // Padding rows have no writer below; packed batches have none, but zeroing is one cheap call.
  if (rows > 0)
    CUDA_CHECK(cudaMemsetAsync(dy, 0, static_cast<size_t>(rows) * width * sizeof(float), stream));
  const int64_t total = static_cast<int64_t>(batch) * width;
  if (total == 0) return;
  pool_grad_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(dfeatures, width, step_offsets, lengths, batch,
                                                               steps, static_cast<int>(padding), mean, max,
                                                               argmax, dy);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

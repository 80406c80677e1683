// Batch packing and final-state gathers (see pack.h).
#include "kernels/pack.h"

#include "cuda/cuda_check.h"
#include "kernels/launch.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

constexpr int kPre = static_cast<int>(Padding::Pre);

__global__ void pack_tokens_kernel(const int32_t* __restrict__ tokens,
                                   const int64_t* __restrict__ offsets,
                                   const int32_t* __restrict__ reviews,
                                   const int32_t* __restrict__ lengths,
                                   const int64_t* __restrict__ step_offsets, int batch, int steps,
                                   int padding, int32_t* __restrict__ out) {
  const int64_t total = static_cast<int64_t>(steps) * batch;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int t = static_cast<int>(idx / batch);
    const int b = static_cast<int>(idx - static_cast<int64_t>(t) * batch);
    const int64_t begin = step_offsets[t];
    if (b >= step_offsets[t + 1] - begin) continue;  // sequence b has ended (packed only)
    const int length = lengths[b];
    const int64_t start = offsets[reviews[b]];
    const bool empty = offsets[reviews[b] + 1] == start;  // an empty review reads as one <unk>
    // Position inside the review's text read at step t; outside [0, length) is padding.
    const int pos = padding == kPre ? t - (steps - length) : t;
    int32_t id = kPadId;
    if (pos >= 0 && pos < length) id = empty ? kUnkId : tokens[start + pos];
    out[begin + b] = id;
  }
}

// Feature element idx = (b, d, h) of [B x dirs*H] -> its element in hy [layers*dirs x B x H].
__device__ inline int64_t final_state_index(int64_t idx, int top_block, int dirs, int batch, int hidden) {
  const int64_t width = static_cast<int64_t>(dirs) * hidden;
  const int64_t b = idx / width;
  const int d = static_cast<int>((idx - b * width) / hidden);
  const int h = static_cast<int>(idx - b * width - static_cast<int64_t>(d) * hidden);
  return ((top_block + d) * static_cast<int64_t>(batch) + b) * hidden + h;
}

__global__ void gather_final_kernel(const float* __restrict__ hy, int top_block, int dirs,
                                    int batch, int hidden, float* __restrict__ features) {
  const int64_t total = static_cast<int64_t>(batch) * dirs * hidden;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    features[idx] = hy[final_state_index(idx, top_block, dirs, batch, hidden)];
  }
}

__global__ void scatter_final_kernel(const float* __restrict__ dfeatures, int top_block, int dirs,
                                     int batch, int hidden, float* __restrict__ dhy) {
  const int64_t total = static_cast<int64_t>(batch) * dirs * hidden;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    dhy[final_state_index(idx, top_block, dirs, batch, hidden)] = dfeatures[idx];
  }
}

__global__ void gather_labels_kernel(const uint8_t* __restrict__ split_labels,
                                     const int32_t* __restrict__ reviews, int batch,
                                     uint8_t* __restrict__ out) {
  for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < batch; b += gridDim.x * blockDim.x)
    out[b] = split_labels[reviews[b]];
}

void check_padding(Padding padding) {
  RNNB_ASSERT(padding == Padding::Packed || padding == Padding::Pre || padding == Padding::Post);
}

}  // namespace

void pack_batch_tokens(const int32_t* tokens, const int64_t* offsets, const int32_t* reviews,
                       const int32_t* lengths, const int64_t* step_offsets, int batch,
                       int steps, Padding padding, int32_t* out, cudaStream_t stream) {
  RNNB_ASSERT(batch >= 0 && steps >= 0);
  check_padding(padding);
  const int64_t total = static_cast<int64_t>(steps) * batch;
  if (total == 0) return;
  pack_tokens_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(
      tokens, offsets, reviews, lengths, step_offsets, batch, steps, static_cast<int>(padding), out);
  CUDA_CHECK_LAUNCH();
}

void gather_final_hidden(const float* hy, int layers, int dirs, int batch, int hidden,
                         float* features, cudaStream_t stream) {
  RNNB_ASSERT(layers >= 1 && (dirs == 1 || dirs == 2) && batch >= 0 && hidden >= 1);
  const int64_t total = static_cast<int64_t>(batch) * dirs * hidden;
  if (total == 0) return;
  gather_final_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(hy, (layers - 1) * dirs, dirs,
                                                                   batch, hidden, features);
  CUDA_CHECK_LAUNCH();
}

void scatter_final_hidden_grad(const float* dfeatures, int layers, int dirs, int batch,
                               int hidden, float* dhy, cudaStream_t stream) {
  RNNB_ASSERT(layers >= 1 && (dirs == 1 || dirs == 2) && batch >= 0 && hidden >= 1);
  const int64_t total = static_cast<int64_t>(batch) * dirs * hidden;
  if (total == 0) return;
  CUDA_CHECK(cudaMemsetAsync(dhy, 0, static_cast<size_t>(layers) * total * sizeof(float), stream));
  scatter_final_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(dfeatures, (layers - 1) * dirs,
                                                                    dirs, batch, hidden, dhy);
  CUDA_CHECK_LAUNCH();
}

void gather_labels(const uint8_t* split_labels, const int32_t* reviews, int batch, uint8_t* out,
                   cudaStream_t stream) {
  RNNB_ASSERT(batch >= 0);
  if (batch == 0) return;
  gather_labels_kernel<<<grid_for(batch), kBlockSize, 0, stream>>>(split_labels, reviews, batch, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

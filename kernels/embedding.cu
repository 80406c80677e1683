// Embedding gather and table-gradient kernels (see embedding.h).
#include "kernels/embedding.h"

#include <climits>
#include <cub/device/device_radix_sort.cuh>

#include "cuda/cuda_check.h"
#include "kernels/launch.h"

namespace rnnb::cuda {
namespace {

__device__ inline float to_float(float x) { return x; }
__device__ inline float to_float(__half x) { return __half2float(x); }
__device__ inline void store(float* out, float x) { *out = x; }
__device__ inline void store(__half* out, float x) { *out = __float2half_rn(x); }

template <typename Out>
__global__ void gather_kernel(const float* __restrict__ table, int embed,
                              const int32_t* __restrict__ tokens, int64_t total,
                              Out* __restrict__ out) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = idx / embed;
    const int col = static_cast<int>(idx - row * embed);
    store(out + idx, table[static_cast<int64_t>(tokens[row]) * embed + col]);
  }
}

template <typename In>
__global__ void grad_atomic_kernel(const In* __restrict__ dout, int embed,
                                   const int32_t* __restrict__ tokens, int64_t total,
                                   float* __restrict__ dtable) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = idx / embed;
    const int col = static_cast<int>(idx - row * embed);
    atomicAdd(dtable + static_cast<int64_t>(tokens[row]) * embed + col, to_float(dout[idx]));
  }
}

__global__ void iota_kernel(int32_t* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = static_cast<int32_t>(i);
}

// One block per run of equal tokens in the sorted order (the block at the run's first
// element does the work; the others find they are not a run head and skip). Threads cover
// the columns; each column sums its run serially, in increasing position order.
template <typename In>
__global__ void grad_sorted_kernel(const In* __restrict__ dout, int embed,
                                   const uint32_t* __restrict__ sorted_tokens,
                                   const int32_t* __restrict__ sorted_positions, int64_t n,
                                   float* __restrict__ dtable) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const uint32_t token = sorted_tokens[i];
    if (i > 0 && sorted_tokens[i - 1] == token) continue;  // not the head of its run
    int64_t end = i + 1;
    while (end < n && sorted_tokens[end] == token) ++end;
    float* row = dtable + static_cast<int64_t>(token) * embed;
    for (int col = threadIdx.x; col < embed; col += blockDim.x) {
      float sum = row[col];
      for (int64_t k = i; k < end; ++k)
        sum += to_float(dout[static_cast<int64_t>(sorted_positions[k]) * embed + col]);
      row[col] = sum;
    }
  }
}

template <typename Out>
void gather_impl(const float* table, int embed, const int32_t* tokens, int64_t n, Out* out,
                 cudaStream_t stream) {
  RNNB_ASSERT(embed > 0 && n >= 0);
  const int64_t total = n * embed;
  if (total == 0) return;
  gather_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(table, embed, tokens, total, out);
  CUDA_CHECK_LAUNCH();
}

template <typename In>
void grad_atomic_impl(const In* dout, int embed, const int32_t* tokens, int64_t n,
                      float* dtable, cudaStream_t stream) {
  RNNB_ASSERT(embed > 0 && n >= 0);
  const int64_t total = n * embed;
  if (total == 0) return;
  grad_atomic_kernel<<<grid_for(total), kBlockSize, 0, stream>>>(dout, embed, tokens, total, dtable);
  CUDA_CHECK_LAUNCH();
}

// Never shrinks: batches vary in size, and a reallocation (cudaFree) would stall the device.
template <typename T>
void grow(DeviceBuffer<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
}

int bits_for(int vocab) {
  int bits = 1;
  while (bits < 32 && (int64_t{1} << bits) < vocab) ++bits;
  return bits;
}

template <typename In>
void grad_sorted_impl(const In* dout, int embed, const int32_t* tokens, int64_t n, int vocab,
                      float* dtable, EmbeddingGradWorkspace& ws, cudaStream_t stream) {
  RNNB_ASSERT(embed > 0 && n >= 0 && vocab > 0);
  RNNB_ASSERT(n <= INT_MAX);
  if (n == 0) return;
  grow(ws.sorted_tokens, n);
  grow(ws.positions, n);
  grow(ws.sorted_positions, n);

  iota_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(ws.positions.data(), n);
  CUDA_CHECK_LAUNCH();

  // Token ids are non-negative, so their bits sort the same as unsigned keys; the radix
  // sort is stable, which keeps each token's positions in increasing order.
  const auto* keys = reinterpret_cast<const uint32_t*>(tokens);
  const int items = static_cast<int>(n);
  const int end_bit = bits_for(vocab);
  size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, ws.sorted_tokens.data(),
                                             ws.positions.data(), ws.sorted_positions.data(),
                                             items, 0, end_bit, stream));
  grow(ws.sort_temp, temp_bytes == 0 ? 1 : temp_bytes);
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(ws.sort_temp.data(), temp_bytes, keys,
                                             ws.sorted_tokens.data(), ws.positions.data(),
                                             ws.sorted_positions.data(), items, 0, end_bit,
                                             stream));

  const int block = embed >= 128 ? 128 : 32;
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(n, 65535));
  grad_sorted_kernel<<<grid, block, 0, stream>>>(dout, embed, ws.sorted_tokens.data(),
                                                 ws.sorted_positions.data(), n, dtable);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void embedding_gather(const float* table, int embed, const int32_t* tokens, int64_t n,
                      float* out, cudaStream_t stream) {
  gather_impl(table, embed, tokens, n, out, stream);
}
void embedding_gather(const float* table, int embed, const int32_t* tokens, int64_t n,
                      __half* out, cudaStream_t stream) {
  gather_impl(table, embed, tokens, n, out, stream);
}

void embedding_grad_atomic(const float* dout, int embed, const int32_t* tokens, int64_t n,
                           float* dtable, cudaStream_t stream) {
  grad_atomic_impl(dout, embed, tokens, n, dtable, stream);
}
void embedding_grad_atomic(const __half* dout, int embed, const int32_t* tokens, int64_t n,
                           float* dtable, cudaStream_t stream) {
  grad_atomic_impl(dout, embed, tokens, n, dtable, stream);
}

void embedding_grad_sorted(const float* dout, int embed, const int32_t* tokens, int64_t n,
                           int vocab, float* dtable, EmbeddingGradWorkspace& workspace,
                           cudaStream_t stream) {
  grad_sorted_impl(dout, embed, tokens, n, vocab, dtable, workspace, stream);
}
void embedding_grad_sorted(const __half* dout, int embed, const int32_t* tokens, int64_t n,
                           int vocab, float* dtable, EmbeddingGradWorkspace& workspace,
                           cudaStream_t stream) {
  grad_sorted_impl(dout, embed, tokens, n, vocab, dtable, workspace, stream);
}

}  // namespace rnnb::cuda

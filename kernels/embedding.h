// Embedding lookup on the device: gather rows of the table for a batch's tokens (fp32, or
// converted to fp16 for the half-precision RNN input), and the table gradient, either by
// atomics (fast, order varies) or by sorting positions by token (bitwise reproducible).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/device_buffer.h"

namespace rnnb::cuda {

// out[i x embed] = table[tokens[i]] for i < n.
void embedding_gather(const float* table, int embed, const int32_t* tokens, int64_t n,
                      float* out, cudaStream_t stream);
// Same rows converted to fp16 as they are copied.
void embedding_gather(const float* table, int embed, const int32_t* tokens, int64_t n,
                      __half* out, cudaStream_t stream);

// dtable[tokens[i]] += dout[i] with atomicAdd; the summation order varies between runs.
void embedding_grad_atomic(const float* dout, int embed, const int32_t* tokens, int64_t n,
                           float* dtable, cudaStream_t stream);
void embedding_grad_atomic(const __half* dout, int embed, const int32_t* tokens, int64_t n,
                           float* dtable, cudaStream_t stream);

// Scratch for the sorted gradient; grows on demand and is reused between calls.
struct EmbeddingGradWorkspace {
  DeviceBuffer<uint32_t> sorted_tokens;
  DeviceBuffer<int32_t> positions;
  DeviceBuffer<int32_t> sorted_positions;
  DeviceBuffer<unsigned char> sort_temp;
};

// dtable[tokens[i]] += dout[i], each touched row summed in position order starting from its
// current value: the same additions in the same order as the CPU reference, every run.
// Token ids must lie in [0, vocab).
void embedding_grad_sorted(const float* dout, int embed, const int32_t* tokens, int64_t n,
                           int vocab, float* dtable, EmbeddingGradWorkspace& workspace,
                           cudaStream_t stream);
void embedding_grad_sorted(const __half* dout, int embed, const int32_t* tokens, int64_t n,
                           int vocab, float* dtable, EmbeddingGradWorkspace& workspace,
                           cudaStream_t stream);

// Picks the sorted (deterministic) or the atomic variant.
template <typename T>
void embedding_grad(const T* dout, int embed, const int32_t* tokens, int64_t n, int vocab,
                    float* dtable, bool deterministic, EmbeddingGradWorkspace& workspace,
                    cudaStream_t stream) {
  if (deterministic)
    embedding_grad_sorted(dout, embed, tokens, n, vocab, dtable, workspace, stream);
  else
    embedding_grad_atomic(dout, embed, tokens, n, dtable, stream);
}

}  // namespace rnnb::cuda

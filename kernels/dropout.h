// Inverted dropout on the device with a counter-based random stream: element i of step
// `step` draws from a hash of (seed, step, i), so a run is reproducible, a resumed run needs
// only the step count, and no generator state lives on the GPU.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rnnb::cuda {

// Keeps each element with probability 1-p: mask[i] = 1/(1-p) or 0, out = in * mask.
// p == 0 copies and fills the mask with 1. Requires 0 <= p < 1.
void dropout_forward(const float* in, int64_t n, float p, uint64_t seed, uint64_t step,
                     float* out, float* mask, cudaStream_t stream);

// Word dropout: each token other than kPadId becomes kUnkId with probability p, drawn from
// the same counter-based stream (token i of step `step`). p == 0 leaves them. The CPU twin
// is rnnb::word_dropout (cpu/cpu_ops.h): the same rule, another random stream.
void word_dropout(int32_t* tokens, int64_t n, float p, uint64_t seed, uint64_t step, cudaStream_t stream);

// din = dout * mask (din may alias dout).
void dropout_backward(const float* dout, const float* mask, int64_t n, float* din,
                      cudaStream_t stream);

}  // namespace rnnb::cuda

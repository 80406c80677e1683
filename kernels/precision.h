// Conversions between fp32 and fp16 device arrays for the half-precision RNN: the fp32
// master weights into cuDNN's fp16 weight space, and fp16 states and gradients back.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace rnnb::cuda {

// out[i] = in[i] for i < n, rounded to nearest (fp32 -> fp16) or exact (fp16 -> fp32).
void convert(const float* in, __half* out, size_t n, cudaStream_t stream);
void convert(const __half* in, float* out, size_t n, cudaStream_t stream);

}  // namespace rnnb::cuda

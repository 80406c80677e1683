// ReLU for the head's hidden layer on the device (cpu/cpu_ops.h's head_forward /
// head_backward are the reference).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rnnb::cuda {

// x[i] = max(x[i], 0), in place.
void relu_forward(float* x, int64_t n, cudaStream_t stream);

// grad[i] = 0 where act[i] is not positive (act: the ReLU's output), in place.
void relu_backward(const float* act, float* grad, int64_t n, cudaStream_t stream);

}  // namespace rnnb::cuda

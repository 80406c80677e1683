// Pooling over time on the device: the mean and/or elementwise max of the top layer's
// outputs over each review's real positions, and its gradient. The twins of
// pool_forward / pool_backward in cpu/cpu_ops.h, on the step_row_offsets layout of data/batching.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "data/batching.h"
#include "model/model_config.h"

namespace rnnb::cuda {

// features [batch x width] (Mean, Max) or [batch x 2*width] (MeanMax: mean then max) from
// y [rows x width], time-major; sequence b's real steps are [0, lengths[b]) when packed or
// post-padded, [steps - lengths[b], steps) when pre-padded. Max and MeanMax write the step
// of each maximum (the first on ties) into argmax [batch x width]; it may be null for Mean.
// step_offsets, lengths: device arrays (step_offsets from step_row_offsets).
void pool_outputs(Pool pool, const float* y, int width, const int64_t* step_offsets, const int32_t* lengths,
                  int batch, int steps, Padding padding, float* features, int32_t* argmax,
                  cudaStream_t stream);

// The gradient: writes all of dy [rows x width]: dfeatures/length on each real row (mean),
// plus dfeatures at the argmax step (max), zero on padding rows.
void pool_outputs_grad(Pool pool, const float* dfeatures, int width, const int64_t* step_offsets,
                       const int32_t* lengths, int batch, int steps, Padding padding, const int32_t* argmax,
                       int64_t rows, float* dy, cudaStream_t stream);

}  // namespace rnnb::cuda

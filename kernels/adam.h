// Fused Adam over the model's one flat parameter buffer: a single launch updates every
// parameter and both moment buffers. The gradient scale (from global-norm clipping) is
// read from device memory, so clipping and the update never wait for the host.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "model/model_config.h"
#include "kernels/nonfinite.h"

namespace rnnb::cuda {

// One step of torch.optim.Adam with the semantics (and float operation order) of
// adam_update in cpu/cpu_ops.h: g = grad * scale + weight_decay * param, moment updates,
// bias correction for `step` (1-based, counting this update), eps outside the sqrt.
// grad_scale points to one float on the device; null means 1. With a guard (nonfinite.h),
// a step it marks skipped changes nothing, and steps skipped since its counters were
// cleared are not counted in `step`'s bias correction.
void adam_step(float* params, const float* grad, float* m, float* v, size_t n,
               const OptimConfig& config, int64_t step, const float* grad_scale,
               cudaStream_t stream, const NonfiniteGuard* guard = nullptr);

}  // namespace rnnb::cuda

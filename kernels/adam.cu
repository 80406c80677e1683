// Fused Adam kernel (see adam.h).
#include "kernels/adam.h"

#include <cmath>

#include "cuda/cuda_check.h"
#include "kernels/launch.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

struct AdamScalars {
  float step_size;   // lr / (1 - beta1^step)
  float bias2_sqrt;  // sqrt(1 - beta2^step)
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  // For recomputing the bias corrections on the device after skipped steps.
  double lr, beta1_d, beta2_d;
  long long step;
};

// Explicitly rounded operations (no fused multiply-add) so each step rounds exactly as the
// CPU reference does.
__global__ void adam_kernel(float* __restrict__ params, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, int64_t n,
                            AdamScalars s, const float* __restrict__ grad_scale,
                            const NonfiniteGuard* __restrict__ guard) {
  if (guard) {
    if (guard->skip_this_step) return;
    if (guard->skipped > 0) {  // rare: only after a skipped step, until the host catches up
      const double step = static_cast<double>(s.step - guard->skipped);
      s.step_size = static_cast<float>(s.lr / (1.0 - pow(s.beta1_d, step)));
      s.bias2_sqrt = static_cast<float>(sqrt(1.0 - pow(s.beta2_d, step)));
    }
  }
  const float scale = grad_scale ? *grad_scale : 1.0f;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float p = params[i];
    const float g = __fadd_rn(__fmul_rn(grad[i], scale), __fmul_rn(s.weight_decay, p));
    const float mi = __fadd_rn(__fmul_rn(s.beta1, m[i]), __fmul_rn(s.one_minus_beta1, g));
    const float vi =
        __fadd_rn(__fmul_rn(s.beta2, v[i]), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bias2_sqrt), s.eps);
    m[i] = mi;
    v[i] = vi;
    params[i] = __fsub_rn(p, __fdiv_rn(__fmul_rn(s.step_size, mi), denom));
  }
}

}  // namespace

void adam_step(float* params, const float* grad, float* m, float* v, size_t n,
               const OptimConfig& config, int64_t step, const float* grad_scale,
               cudaStream_t stream, const NonfiniteGuard* guard) {
  RNNB_ASSERT(step >= 1);
  if (n == 0) return;
  // Bias corrections in double on the host, rounded to float, exactly as adam_update does.
  const double bias1 = 1.0 - std::pow(static_cast<double>(config.beta1), static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(static_cast<double>(config.beta2), static_cast<double>(step));
  AdamScalars s{};
  s.step_size = static_cast<float>(config.lr / bias1);
  s.bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  s.beta1 = config.beta1;
  s.one_minus_beta1 = 1.0f - config.beta1;
  s.beta2 = config.beta2;
  s.one_minus_beta2 = 1.0f - config.beta2;
  s.eps = config.eps;
  s.weight_decay = config.weight_decay;
  s.lr = config.lr;
  s.beta1_d = config.beta1;
  s.beta2_d = config.beta2;
  s.step = step;
  const auto count = static_cast<int64_t>(n);
  adam_kernel<<<grid_for(count), kBlockSize, 0, stream>>>(params, grad, m, v, count, s, grad_scale, guard);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

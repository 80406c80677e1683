// Global-norm clipping and Adam on the device (kernels/clip.h, kernels/adam.h) against the
// CPU reference: sums of squares, the clip and loss-scale factor, Adam over several steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "kernels/adam.h"
#include "kernels/clip.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

constexpr double kExactBound = 1e-6;

class ClipAdamKernel : public GpuTest {};

const size_t kFlatSizes[] = {1, 255, 256 * 256 + 1, (size_t{1} << 20) + 3};

TEST_F(ClipAdamKernel, SumOfSquaresAndClipScaleMatchReference) {
  uint64_t seed = 1000;
  DeviceBuffer<double> partials(cuda::kSumOfSquaresBlocks);
  for (size_t n : kFlatSizes)
    for (float max_norm : {0.0f, 0.5f, 1e6f}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " max_norm " << max_norm);
      const auto grad = random_floats(n, ++seed, -2.0f, 2.0f);
      const double expected_sum = sum_of_squares(grad.data(), n);
      const float expected_scale = clip_scale(std::sqrt(expected_sum), max_norm);

      auto d_grad = to_device(grad, stream());
      auto d_sum = poisoned<double>(1, stream());
      auto d_scale = poisoned<float>(1, stream());
      auto d_norm = poisoned<float>(1, stream());
      cuda::grad_sum_of_squares(d_grad.data(), n, partials.data(), d_sum.data(), stream());
      cuda::grad_clip_scale(d_sum.data(), max_norm, /*loss_scale=*/1.0f, d_scale.data(), d_norm.data(),
                            stream());
      const double sum = to_host(d_sum, stream())[0];
      EXPECT_NEAR(sum, expected_sum, 1e-12 * expected_sum);
      EXPECT_NEAR(to_host(d_scale, stream())[0], expected_scale, kExactBound * expected_scale);
      EXPECT_NEAR(to_host(d_norm, stream())[0], std::sqrt(expected_sum), kExactBound * std::sqrt(expected_sum));
      if (max_norm == 0.5f) {
        EXPECT_LT(to_host(d_scale, stream())[0], 1.0f);  // these gradients exceed 0.5
      }

      // A fixed reduction order: the same bits on a second run.
      cuda::grad_sum_of_squares(d_grad.data(), n, partials.data(), d_sum.data(), stream());
      EXPECT_EQ(to_host(d_sum, stream())[0], sum);
    }
}

// A gradient computed times a loss scale S: the norm reported is the true one, and the
// factor is the true clip factor divided by S, so grad * factor is the clipped true gradient.
TEST_F(ClipAdamKernel, ClipScaleUndoesTheLossScale) {
  const size_t n = 4099;
  const float loss_scale = 1024.0f;
  const auto grad = random_floats(n, 77, -2.0f, 2.0f);
  std::vector<float> scaled(n);
  for (size_t i = 0; i < n; ++i) scaled[i] = grad[i] * loss_scale;  // exact: a power of two
  const double true_norm = std::sqrt(sum_of_squares(grad.data(), n));
  DeviceBuffer<double> partials(cuda::kSumOfSquaresBlocks);
  auto d_grad = to_device(scaled, stream());
  auto d_sum = poisoned<double>(1, stream());
  auto d_scale = poisoned<float>(1, stream());
  auto d_norm = poisoned<float>(1, stream());
  cuda::grad_sum_of_squares(d_grad.data(), n, partials.data(), d_sum.data(), stream());
  for (float max_norm : {0.0f, 0.5f, 1e6f}) {
    SCOPED_TRACE(testing::Message() << "max_norm " << max_norm);
    cuda::grad_clip_scale(d_sum.data(), max_norm, loss_scale, d_scale.data(), d_norm.data(), stream());
    const float expected = clip_scale(true_norm, max_norm) / loss_scale;
    EXPECT_NEAR(to_host(d_scale, stream())[0], expected, kExactBound * expected);
    EXPECT_NEAR(to_host(d_norm, stream())[0], true_norm, kExactBound * true_norm);
  }
}

TEST_F(ClipAdamKernel, AdamMatchesReferenceOverSeveralSteps) {
  uint64_t seed = 1100;
  OptimConfig plain;
  OptimConfig decayed;
  decayed.lr = 3e-3f;
  decayed.beta1 = 0.8f;
  decayed.beta2 = 0.99f;
  decayed.weight_decay = 0.01f;
  for (size_t n : kFlatSizes)
    for (const OptimConfig& config : {plain, decayed})
      for (bool use_scale : {false, true}) {
        SCOPED_TRACE(testing::Message() << "n " << n << " weight_decay " << config.weight_decay
                                        << " scale " << use_scale);
        auto params = random_floats(n, ++seed);
        std::vector<float> m(n, 0.0f), v(n, 0.0f);
        auto d_params = to_device(params, stream());
        auto d_m = to_device(m, stream());
        auto d_v = to_device(v, stream());
        const float scale = use_scale ? 0.37f : 1.0f;
        auto d_scale = to_device(std::vector<float>{scale}, stream());
        for (int64_t step = 1; step <= 5; ++step) {
          const auto grad = random_floats(n, ++seed);
          adam_update(params.data(), grad.data(), m.data(), v.data(), n, config, step, scale);
          auto d_grad = to_device(grad, stream());
          cuda::adam_step(d_params.data(), d_grad.data(), d_m.data(), d_v.data(), n, config, step,
                          use_scale ? d_scale.data() : nullptr, stream());
        }
        EXPECT_LE(relative_error(to_host(d_params, stream()), params), kExactBound);
        EXPECT_LE(relative_error(to_host(d_m, stream()), m), kExactBound);
        EXPECT_LE(relative_error(to_host(d_v, stream()), v), kExactBound);
      }
}

TEST_F(ClipAdamKernel, ClipThenAdamMatchesReference) {
  const size_t n = 70001;
  OptimConfig config;
  config.clip_norm = 1.0f;
  auto params = random_floats(n, 1);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  auto d_params = to_device(params, stream());
  auto d_m = to_device(m, stream());
  auto d_v = to_device(v, stream());
  DeviceBuffer<double> partials(cuda::kSumOfSquaresBlocks), d_sum(1);
  DeviceBuffer<float> d_scale(1);
  for (int64_t step = 1; step <= 3; ++step) {
    const auto grad = random_floats(n, 10 + step);
    const float scale = clip_scale(std::sqrt(sum_of_squares(grad.data(), n)), config.clip_norm);
    ASSERT_LT(scale, 1.0f);
    adam_update(params.data(), grad.data(), m.data(), v.data(), n, config, step, scale);
    auto d_grad = to_device(grad, stream());
    cuda::grad_sum_of_squares(d_grad.data(), n, partials.data(), d_sum.data(), stream());
    cuda::grad_clip_scale(d_sum.data(), config.clip_norm, /*loss_scale=*/1.0f, d_scale.data(), nullptr,
                          stream());
    cuda::adam_step(d_params.data(), d_grad.data(), d_m.data(), d_v.data(), n, config, step,
                    d_scale.data(), stream());
  }
  EXPECT_LE(relative_error(to_host(d_params, stream()), params), kExactBound);
  EXPECT_LE(relative_error(to_host(d_m, stream()), m), kExactBound);
}

}  // namespace
}  // namespace rnnb::test

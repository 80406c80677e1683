// Dropout on the device (kernels/dropout.h): masks of 0 or 1/(1-p) keeping about 1-p,
// the same mask for the same seed and step, a plain copy at p = 0; word dropout by the CPU
// twin's rule (real tokens to <unk> at rate p, pads kept).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "kernels/dropout.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

class DropoutKernel : public GpuTest {};

TEST_F(DropoutKernel, DropoutMaskIsZeroOrScaleWithTheKeptFraction) {
  uint64_t seed = 900;
  for (float p : {0.1f, 0.5f, 0.9f})
    for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{100003}}) {
      SCOPED_TRACE(testing::Message() << "p " << p << " n " << n);
      const auto in = random_floats(n, ++seed);
      const float scale = 1.0f / (1.0f - p);
      auto d_in = to_device(in, stream());
      auto d_out = poisoned<float>(n, stream());
      auto d_mask = poisoned<float>(n, stream());
      cuda::dropout_forward(d_in.data(), n, p, /*seed=*/42, /*step=*/7, d_out.data(), d_mask.data(), stream());
      const auto out = to_host(d_out, stream());
      const auto mask = to_host(d_mask, stream());
      int64_t kept = 0, bad_values = 0, bad_products = 0;
      for (int64_t i = 0; i < n; ++i) {
        kept += mask[i] == scale;
        bad_values += mask[i] != scale && mask[i] != 0.0f;
        bad_products += out[i] != in[i] * mask[i];
      }
      EXPECT_EQ(bad_values, 0);
      EXPECT_EQ(bad_products, 0);
      // Kept count is Binomial(n, 1-p): allow 5 standard deviations.
      const double mean = n * (1.0 - p), sd = std::sqrt(n * p * (1.0 - p));
      EXPECT_LE(std::abs(kept - mean), 5.0 * sd + 1e-9 + (n == 1 ? 1.0 : 0.0));

      // Backward multiplies by the same mask.
      const auto dout = random_floats(n, ++seed);
      auto d_dout = to_device(dout, stream());
      auto d_din = poisoned<float>(n, stream());
      cuda::dropout_backward(d_dout.data(), d_mask.data(), n, d_din.data(), stream());
      const auto din = to_host(d_din, stream());
      int64_t bad_grads = 0;
      for (int64_t i = 0; i < n; ++i) bad_grads += din[i] != dout[i] * mask[i];
      EXPECT_EQ(bad_grads, 0);
    }
}

TEST_F(DropoutKernel, DropoutIsDeterministicPerSeedAndStep) {
  const int64_t n = 50001;
  const float p = 0.5f;
  const auto in = random_floats(n, 1);
  auto d_in = to_device(in, stream());
  auto mask_for = [&](uint64_t seed, uint64_t step) {
    auto d_out = poisoned<float>(n, stream());
    auto d_mask = poisoned<float>(n, stream());
    cuda::dropout_forward(d_in.data(), n, p, seed, step, d_out.data(), d_mask.data(), stream());
    return to_host(d_mask, stream());
  };
  const auto base = mask_for(3, 10);
  EXPECT_TRUE(same_bits(base, mask_for(3, 10)));
  // Another step or seed draws an independent mask: about half the elements agree.
  for (const auto& other : {mask_for(3, 11), mask_for(4, 10)}) {
    int64_t agree = 0;
    for (int64_t i = 0; i < n; ++i) agree += base[i] == other[i];
    const double fraction = static_cast<double>(agree) / n;
    EXPECT_GT(fraction, 0.48);
    EXPECT_LT(fraction, 0.52);
  }
}

TEST_F(DropoutKernel, DropoutWithZeroProbabilityCopies) {
  const int64_t n = 1001;
  const auto in = random_floats(n, 5);
  std::vector<float> expected_out(n), expected_mask(n);
  Rng rng(1);
  dropout_forward(in.data(), n, 0.0f, rng, expected_out.data(), expected_mask.data());
  auto d_in = to_device(in, stream());
  auto d_out = poisoned<float>(n, stream());
  auto d_mask = poisoned<float>(n, stream());
  cuda::dropout_forward(d_in.data(), n, 0.0f, 1, 1, d_out.data(), d_mask.data(), stream());
  EXPECT_TRUE(same_bits(to_host(d_out, stream()), expected_out));
  EXPECT_TRUE(same_bits(to_host(d_mask, stream()), expected_mask));
}

// The CPU twin's rule with the device's stream: only real tokens change, only to <unk>,
// about p of them, the same ones for the same seed and step; p = 0 changes nothing.
TEST_F(DropoutKernel, WordDropoutFollowsTheCpuRule) {
  const int64_t n = 200000;
  std::vector<int32_t> tokens(n);
  for (int64_t i = 0; i < n; ++i) tokens[i] = i % 10 == 0 ? kPadId : 2 + static_cast<int32_t>(i % 97);
  const auto dropped_with = [&](float p, uint64_t seed, uint64_t step) {
    auto d_tokens = to_device(tokens, stream());
    cuda::word_dropout(d_tokens.data(), n, p, seed, step, stream());
    return to_host(d_tokens, stream());
  };
  EXPECT_EQ(dropped_with(0.0f, 1, 1), tokens);
  for (float p : {0.1f, 0.4f}) {
    SCOPED_TRACE(testing::Message() << "p " << p);
    const auto out = dropped_with(p, 5, 3);
    int64_t replaced = 0, wrong = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (out[i] == tokens[i]) continue;
      ++replaced;
      wrong += tokens[i] == kPadId || out[i] != kUnkId;
    }
    EXPECT_EQ(wrong, 0);
    const double real = 0.9 * n, mean = real * p, sd = std::sqrt(real * p * (1.0 - p));
    EXPECT_LE(std::abs(replaced - mean), 5.0 * sd);
    EXPECT_EQ(dropped_with(p, 5, 3), out);
    EXPECT_NE(dropped_with(p, 5, 4), out);
  }
  // The CPU twin replaces the same share under the same rule.
  std::vector<int32_t> cpu = tokens;
  Rng rng(2);
  const int64_t cpu_replaced = word_dropout(cpu.data(), n, 0.4f, rng);
  EXPECT_LE(std::abs(cpu_replaced - 0.4 * 0.9 * n), 5.0 * std::sqrt(0.9 * n * 0.24));
}

}  // namespace
}  // namespace rnnb::test

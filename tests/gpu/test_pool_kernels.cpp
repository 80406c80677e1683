// Parity of the pooling and ReLU kernels (kernels/pool.h, kernels/relu.h) with the CPU
// reference (model/cpu_ops.h) over packed and pre/post-padded batches of 1 to 64 reviews.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "data/batching.h"
#include "data/token_set.h"
#include "gpu_test_util.h"
#include "model/cpu_ops.h"
#include "pack.h"
#include "pool.h"
#include "relu.h"

namespace rnnb::test {
namespace {

class PoolKernelTest : public GpuTest {};

TokenSet lengths_set(int reviews, int max_len, uint64_t seed) {
  Rng rng(seed);
  TokenSet set;
  std::vector<int32_t> ids;
  for (int r = 0; r < reviews; ++r) {
    ids.assign(1 + rng.below(static_cast<uint64_t>(max_len)), 2);
    set.add(ids.data(), ids.size(), 0);
  }
  return set;
}

TEST_F(PoolKernelTest, PoolingMatchesReferenceForwardAndBackward) {
  const TokenSet set = lengths_set(150, 40, 3);
  Rng rng(4);
  uint64_t seed = 900;
  for (Pool pool : {Pool::Mean, Pool::Max, Pool::MeanMax})
    for (Padding padding : {Padding::None, Padding::Pre, Padding::Post})
      for (int batch_size : {1, 5, 64})
        for (int width : {1, 33, 256}) {
          const Batch batch = make_batches(set, batch_size, BatchOrder::Random, padding, rng).front();
          SCOPED_TRACE(testing::Message() << enum_name(pool) << " " << enum_name(padding) << " batch "
                                          << batch.size() << " width " << width);
          const std::vector<int64_t> offsets = cuda::step_row_offsets(batch);
          ASSERT_EQ(offsets, step_offsets_of(batch.batch_sizes()));
          const int64_t rows = offsets.back();
          const int out_width = pool == Pool::MeanMax ? 2 * width : width;
          auto y = random_floats(static_cast<size_t>(rows) * width, ++seed);
          if (width > 1) y[1] = y[0];  // a tie somewhere
          const auto df = random_floats(static_cast<size_t>(batch.size()) * out_width, ++seed);
          std::vector<float> features(df.size()), dy(y.size());
          std::vector<int32_t> argmax(static_cast<size_t>(batch.size()) * width);
          pool_forward(pool, y.data(), width, offsets.data(), batch.lengths.data(), batch.size(), batch.steps,
                       padding, features.data(), argmax.data());
          pool_backward(pool, df.data(), width, offsets.data(), batch.lengths.data(), batch.size(), batch.steps,
                        padding, argmax.data(), dy.data());

          auto d_offsets = to_device(offsets, stream());
          auto d_lengths = to_device(batch.lengths, stream());
          auto d_y = to_device(y, stream());
          auto d_features = poisoned<float>(features.size(), stream());
          auto d_argmax = poisoned<int32_t>(argmax.size(), stream());
          cuda::pool_outputs(pool, d_y.data(), width, d_offsets.data(), d_lengths.data(), batch.size(), batch.steps,
                             padding, d_features.data(), d_argmax.data(), stream());
          EXPECT_LT(relative_error(to_host(d_features, stream()), features), 1e-6);
          if (pool != Pool::Mean) {
            EXPECT_EQ(to_host(d_argmax, stream()), argmax);
          }

          auto d_df = to_device(df, stream());
          auto d_dy = poisoned<float>(dy.size(), stream());
          cuda::pool_outputs_grad(pool, d_df.data(), width, d_offsets.data(), d_lengths.data(), batch.size(),
                                  batch.steps, padding, d_argmax.data(), rows, d_dy.data(), stream());
          EXPECT_LT(relative_error(to_host(d_dy, stream()), dy), 1e-6);
        }
}

TEST_F(PoolKernelTest, ReluForwardAndBackward) {
  for (int64_t n : {1, 257, 10000}) {
    auto x = random_floats(static_cast<size_t>(n), 40 + n);
    x[0] = 0.0f;  // exactly zero: not positive, so no gradient
    auto grad = random_floats(static_cast<size_t>(n), 50 + n);
    std::vector<float> act(x.size()), expected_grad = grad;
    for (size_t i = 0; i < x.size(); ++i) {
      act[i] = std::max(x[i], 0.0f);
      if (!(act[i] > 0.0f)) expected_grad[i] = 0.0f;
    }
    auto d_x = to_device(x, stream());
    cuda::relu_forward(d_x.data(), n, stream());
    EXPECT_TRUE(same_bits(to_host(d_x, stream()), act));
    auto d_grad = to_device(grad, stream());
    cuda::relu_backward(d_x.data(), d_grad.data(), n, stream());
    EXPECT_TRUE(same_bits(to_host(d_grad, stream()), expected_grad));
  }
}

}  // namespace
}  // namespace rnnb::test

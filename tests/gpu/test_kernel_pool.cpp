// The pooling kernels (kernels/pool.h) against the CPU reference (cpu/cpu_ops.h): mean, max
// and meanmax, forward and backward, over packed and pre/post-padded batches of 1 to 64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "data/batching.h"
#include "data/tokenized_split.h"
#include "gpu_test_util.h"
#include "cpu/cpu_ops.h"
#include "kernels/pack.h"
#include "kernels/pool.h"

namespace rnnb::test {
namespace {

class PoolKernel : public GpuTest {};

TEST_F(PoolKernel, PoolingMatchesReferenceForwardAndBackward) {
  const TokenizedSplit set = random_split(150, 3, 40, 3);
  Rng rng(4);
  uint64_t seed = 900;
  for (Pool pool : {Pool::Mean, Pool::Max, Pool::MeanMax})
    for (Padding padding : {Padding::Packed, Padding::Pre, Padding::Post})
      for (int batch_size : {1, 5, 64})
        for (int width : {1, 33, 256}) {
          const Batch batch = make_batches(set, batch_size, BatchOrder::Random, padding, rng).front();
          SCOPED_TRACE(testing::Message() << enum_name(pool) << " " << enum_name(padding) << " batch "
                                          << batch.size() << " width " << width);
          const std::vector<int64_t> offsets = step_row_offsets(batch.batch_sizes());
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

}  // namespace
}  // namespace rnnb::test

// The batch-layout kernels (kernels/pack.h) against data/batching.h and cpu/cpu_ops.h:
// token packing for packed and pre/post-padded batches (empty and truncated reviews too),
// the final-state gather and its gradient, the label gather.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "data/batching.h"
#include "data/tokenized_split.h"
#include "kernels/pack.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

class PackKernel : public GpuTest {};

struct DeviceBatch {
  DeviceBuffer<int32_t> reviews, lengths;
  DeviceBuffer<int64_t> step_offsets;
  std::vector<int64_t> host_offsets;
  DeviceBatch(const Batch& batch, cudaStream_t stream)
      : reviews(to_device(batch.reviews, stream)),
        lengths(to_device(batch.lengths, stream)),
        host_offsets(step_row_offsets(batch.batch_sizes())) {
    step_offsets = to_device(host_offsets, stream);
  }
};

// Host-side helper: runs without a GPU.
TEST(KernelHostTest, StepRowOffsetsArePrefixSumsOfBatchSizes) {
  const TokenizedSplit set = random_split(200, 30000, 60, 7, 17);
  Rng rng(8);
  for (Padding padding : {Padding::Packed, Padding::Pre, Padding::Post})
    for (int batch_size : {1, 3, 64})
      for (const Batch& batch : make_batches(set, batch_size, BatchOrder::Random, padding, rng)) {
        const auto offsets = step_row_offsets(batch.batch_sizes());
        const auto sizes = batch.batch_sizes();
        ASSERT_EQ(offsets.size(), sizes.size() + 1);
        EXPECT_EQ(offsets[0], 0);
        for (size_t t = 0; t < sizes.size(); ++t) EXPECT_EQ(offsets[t + 1] - offsets[t], sizes[t]);
        EXPECT_EQ(offsets.back(), batch.computed_tokens());
      }
}

TEST_F(PackKernel, PackBatchTokensMatchesAssembleTokens) {
  const TokenizedSplit set = random_split(300, 30000, 90, 11, 17);
  auto d_tokens = to_device(set.tokens, stream());
  auto d_offsets = to_device(set.offsets, stream());
  Rng rng(12);
  for (Padding padding : {Padding::Packed, Padding::Pre, Padding::Post})
    for (int batch_size : {1, 3, 64}) {
      auto batches = make_batches(set, batch_size, BatchOrder::Random, padding, rng);
      // A truncated batch too: lengths capped below some reviews' real lengths.
      Batch capped = batches.front();
      for (auto& length : capped.lengths) length = std::min(length, 13);
      capped.steps = capped.lengths.front();
      batches.push_back(capped);
      for (const Batch& batch : batches) {
        SCOPED_TRACE(testing::Message() << enum_name(padding) << " batch " << batch.size()
                                        << " steps " << batch.steps);
        std::vector<int32_t> expected;
        assemble_tokens(set, batch, expected);
        DeviceBatch d_batch(batch, stream());
        ASSERT_EQ(d_batch.host_offsets.back(), static_cast<int64_t>(expected.size()));
        auto d_out = poisoned<int32_t>(expected.size(), stream());
        cuda::pack_batch_tokens(d_tokens.data(), d_offsets.data(), d_batch.reviews.data(),
                                d_batch.lengths.data(), d_batch.step_offsets.data(), batch.size(),
                                batch.steps, padding, d_out.data(), stream());
        EXPECT_EQ(to_host(d_out, stream()), expected);
      }
    }
}

TEST_F(PackKernel, FinalHiddenGatherAndScatter) {
  uint64_t seed = 600;
  for (int layers : {1, 2, 3})
    for (int dirs : {1, 2})
      for (int batch : {1, 3, 64})
        for (int hidden : {1, 100, 128}) {
          SCOPED_TRACE(testing::Message() << "layers " << layers << " dirs " << dirs << " batch "
                                          << batch << " hidden " << hidden);
          const size_t hy_size = static_cast<size_t>(layers) * dirs * batch * hidden;
          const size_t features_size = static_cast<size_t>(batch) * dirs * hidden;
          const auto hy = random_floats(hy_size, ++seed);
          const auto dfeatures = random_floats(features_size, ++seed);
          std::vector<float> expected_features(features_size), expected_dhy(hy_size);
          gather_final_hidden(hy.data(), layers, dirs, batch, hidden, expected_features.data());
          scatter_final_hidden_grad(dfeatures.data(), layers, dirs, batch, hidden, expected_dhy.data());
          auto d_hy = to_device(hy, stream());
          auto d_features = poisoned<float>(features_size, stream());
          cuda::gather_final_hidden(d_hy.data(), layers, dirs, batch, hidden, d_features.data(), stream());
          EXPECT_TRUE(same_bits(to_host(d_features, stream()), expected_features));

          auto d_dfeatures = to_device(dfeatures, stream());
          auto d_dhy = poisoned<float>(hy_size, stream());
          cuda::scatter_final_hidden_grad(d_dfeatures.data(), layers, dirs, batch, hidden,
                                          d_dhy.data(), stream());
          EXPECT_TRUE(same_bits(to_host(d_dhy, stream()), expected_dhy));
        }
}

TEST_F(PackKernel, GatherLabelsPicksEachReviewsLabel) {
  const TokenizedSplit set = random_split(300, 30000, 5, 31, 17);
  auto d_labels = to_device(set.labels, stream());
  Rng rng(32);
  for (int batch_size : {1, 3, 64, 300}) {
    const Batch batch = make_batches(set, batch_size, BatchOrder::Random, Padding::Packed, rng).front();
    std::vector<uint8_t> expected(batch.size());
    gather_labels(set.labels.data(), batch.reviews.data(), batch.size(), expected.data());
    auto d_reviews = to_device(batch.reviews, stream());
    auto d_out = poisoned<uint8_t>(expected.size(), stream());
    cuda::gather_labels(d_labels.data(), d_reviews.data(), batch.size(), d_out.data(), stream());
    EXPECT_EQ(to_host(d_out, stream()), expected) << "batch " << batch_size;
  }
}

}  // namespace
}  // namespace rnnb::test

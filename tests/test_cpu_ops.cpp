// The reference operations: embedding, dropout, softmax cross-entropy, clipping, Adam; and
// the streaming stores the CPU stack keeps its activations with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "cpu/streaming_store.h"

namespace rnnb {
namespace {

TEST(CpuOps, EmbeddingGatherAndScatterAdd) {
  const std::vector<double> table = {0, 1, 10, 11, 20, 21};  // 3 x 2
  const std::vector<int32_t> tokens = {2, 0, 2};
  std::vector<double> out(6);
  embedding_forward(table.data(), 2, tokens.data(), 3, out.data());
  EXPECT_EQ(out, (std::vector<double>{20, 21, 0, 1, 20, 21}));
  std::vector<double> dtable(6, 0.0);
  const std::vector<double> dout = {1, 2, 3, 4, 5, 6};
  embedding_backward(dout.data(), 2, tokens.data(), 3, dtable.data());
  EXPECT_EQ(dtable, (std::vector<double>{3, 4, 0, 0, 6, 8}));
}

TEST(CpuOps, DropoutKeepsAboutOneMinusPAndScales) {
  const int n = 100000;
  std::vector<float> in(n, 2.0f), out(n), mask(n);
  Rng rng(1);
  dropout_forward(in.data(), n, 0.25f, rng, out.data(), mask.data());
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(mask[i] == 0.0f || std::abs(mask[i] - 1.0f / 0.75f) < 1e-6f);
    EXPECT_FLOAT_EQ(out[i], in[i] * mask[i]);
    kept += mask[i] != 0.0f;
  }
  EXPECT_NEAR(kept / double(n), 0.75, 0.01);
  dropout_forward(in.data(), n, 0.0f, rng, out.data(), mask.data());
  EXPECT_EQ(out, in);
}

TEST(CpuOps, SoftmaxCrossEntropyValueAndGradient) {
  const std::vector<double> logits = {1.0, 3.0, 0.5, -0.5};  // 2 x 2
  const std::vector<uint8_t> labels = {1, 1};
  std::vector<double> dlogits(4), prob(2);
  int64_t correct = 0;
  const double loss = softmax_xent(logits.data(), labels.data(), 2, 2, dlogits.data(), &correct, prob.data());
  const double p0 = 1 / (1 + std::exp(-2.0)), p1 = 1 / (1 + std::exp(1.0));
  EXPECT_NEAR(loss, -std::log(p0) - std::log(p1), 1e-12);
  EXPECT_EQ(correct, 1);
  EXPECT_NEAR(prob[0], p0, 1e-12);
  // Central differences of the mean loss.
  for (int i = 0; i < 4; ++i) {
    auto at = [&](double delta) {
      std::vector<double> shifted = logits;
      shifted[i] += delta;
      return softmax_xent<double>(shifted.data(), labels.data(), 2, 2, nullptr, nullptr, nullptr) / 2;
    };
    EXPECT_NEAR(dlogits[i], (at(1e-6) - at(-1e-6)) / 2e-6, 1e-8);
  }
}

TEST(CpuOps, SoftmaxIsStableForHugeLogits) {
  const std::vector<float> logits = {1000.0f, -1000.0f};
  const std::vector<uint8_t> labels = {0};
  const double loss = softmax_xent<float>(logits.data(), labels.data(), 1, 2, nullptr, nullptr, nullptr);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 0.0, 1e-9);
}

TEST(CpuOps, AdamMatchesClosedFormForConstantGradient) {
  // With a constant gradient g, bias correction makes every step move lr * g / (|g| + eps').
  OptimConfig config;
  config.lr = 0.01f;
  std::vector<float> params = {1.0f, -2.0f, 0.5f}, grad = {0.3f, -4.0f, 1e-3f}, m(3, 0.0f), v(3, 0.0f);
  const std::vector<float> start = params;
  for (int step = 1; step <= 50; ++step) adam_update(params.data(), grad.data(), m.data(), v.data(), 3, config, step, 1.0f);
  for (int i = 0; i < 3; ++i) {
    const double expected = start[i] - 50 * 0.01 * grad[i] / (std::abs(grad[i]) + 1e-8);
    EXPECT_NEAR(params[i], expected, 2e-4) << i;
  }
}

TEST(CpuOps, AdamFirstStepWeightDecayAndScale) {
  OptimConfig config;
  config.lr = 0.1f;
  config.weight_decay = 0.5f;
  std::vector<float> p = {2.0f}, g = {1.0f}, m = {0.0f}, v = {0.0f};
  adam_update(p.data(), g.data(), m.data(), v.data(), 1, config, 1, 0.5f);
  // g' = 0.5 * 1 + 0.5 * 2 = 1.5; first step moves lr * sign(g').
  EXPECT_NEAR(p[0], 2.0 - 0.1, 1e-6);
  EXPECT_NEAR(m[0], 0.1 * 1.5, 1e-6);
  EXPECT_NEAR(v[0], 0.001 * 2.25, 1e-7);
}

TEST(CpuOps, ClipScaleFollowsTorchFormula) {
  EXPECT_FLOAT_EQ(clip_scale(10.0, 0.0f), 1.0f);
  EXPECT_FLOAT_EQ(clip_scale(0.5, 1.0f), 1.0f);
  EXPECT_NEAR(clip_scale(4.0, 1.0f), 1.0 / (4.0 + 1e-6), 1e-7);
  const std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(sum_of_squares(g.data(), 2), 25.0);
}

TEST(StreamingStore, CopiesEveryLengthAndAlignmentExactly) {
  // Every length up to a few 16-byte blocks, at every offset of source and destination, into
  // a buffer whose bytes around the destination must stay as they were.
  std::vector<unsigned char> src(256), dst(256);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 37 + 11);
  for (size_t src_at = 0; src_at < 16; ++src_at)
    for (size_t dst_at = 0; dst_at < 16; ++dst_at)
      for (size_t bytes = 0; bytes <= 80; ++bytes) {
        std::fill(dst.begin(), dst.end(), static_cast<unsigned char>(0xA5));
        stream_copy(dst.data() + 32 + dst_at, src.data() + src_at, bytes);
        stream_fence();
        for (size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= 32 + dst_at && i < 32 + dst_at + bytes;
          const unsigned char want = inside ? src[src_at + i - 32 - dst_at] : 0xA5;
          ASSERT_EQ(dst[i], want) << "byte " << i << " of a " << bytes << "-byte copy to offset " << dst_at
                                  << " from offset " << src_at;
        }
      }
}

TEST(StreamingStore, CacheLineVectorsStartOnALine) {
  for (size_t n : {1, 3, 100, 100000}) {
    CacheLineVector<float> v(n, 1.0f);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % 64, 0u) << n;
  }
}

}  // namespace
}  // namespace rnnb

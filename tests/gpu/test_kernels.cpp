// Parity of the CUDA kernels in kernels/ with the CPU reference (model/cpu_ops.h,
// data/batching.h) over shapes that stress edges: odd sizes, counts that are not a multiple
// of the block size, one-element rows, batches of 1, and vocabularies with many repeats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "adam.h"
#include "clip.h"
#include "data/batching.h"
#include "data/token_set.h"
#include "dropout.h"
#include "embedding.h"
#include "model/cpu_ops.h"
#include "pack.h"
#include "softmax_xent.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

constexpr double kFp32Bound = 1e-5;
constexpr double kExactBound = 1e-6;

const int kEmbedSizes[] = {1, 100, 128, 300};
const int64_t kTokenCounts[] = {1, 37, 1000, 4099};
const int kVocabSizes[] = {7, 5003};  // 7: nearly every token repeats

class KernelTest : public GpuTest {};

// ---- Embedding ----------------------------------------------------------------------------

TEST_F(KernelTest, EmbeddingGatherCopiesRowsExactly) {
  uint64_t seed = 100;
  for (int vocab : kVocabSizes)
    for (int embed : kEmbedSizes)
      for (int64_t n : kTokenCounts) {
        SCOPED_TRACE(testing::Message() << "vocab " << vocab << " embed " << embed << " n " << n);
        const auto table = random_floats(static_cast<size_t>(vocab) * embed, ++seed);
        const auto tokens = random_tokens(n, vocab, ++seed);
        std::vector<float> expected(n * embed);
        embedding_forward(table.data(), embed, tokens.data(), n, expected.data());

        auto d_table = to_device(table, stream());
        auto d_tokens = to_device(tokens, stream());
        auto d_out = poisoned<float>(n * embed, stream());
        cuda::embedding_gather(d_table.data(), embed, d_tokens.data(), n, d_out.data(), stream());
        EXPECT_TRUE(same_bits(to_host(d_out, stream()), expected));
      }
}

TEST_F(KernelTest, EmbeddingGatherToHalfRoundsEachValue) {
  uint64_t seed = 200;
  for (int embed : kEmbedSizes)
    for (int64_t n : kTokenCounts) {
      SCOPED_TRACE(testing::Message() << "embed " << embed << " n " << n);
      const int vocab = 50;
      const auto table = random_floats(static_cast<size_t>(vocab) * embed, ++seed);
      const auto tokens = random_tokens(n, vocab, ++seed);
      std::vector<float> expected(n * embed);
      embedding_forward(table.data(), embed, tokens.data(), n, expected.data());

      auto d_table = to_device(table, stream());
      auto d_tokens = to_device(tokens, stream());
      auto d_out = poisoned<__half>(n * embed, stream());
      cuda::embedding_gather(d_table.data(), embed, d_tokens.data(), n, d_out.data(), stream());
      const auto halves = to_host(d_out, stream());
      std::vector<float> got(halves.size());
      for (size_t i = 0; i < halves.size(); ++i) got[i] = __half2float(halves[i]);
      EXPECT_LE(relative_error(got, expected), 1e-3);  // fp16 keeps 11 significant bits
      // Each value is the nearest half (round to nearest even), as on the host.
      size_t mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i)
        mismatches += got[i] != __half2float(__float2half_rn(expected[i]));
      EXPECT_EQ(mismatches, 0u);
    }
}

struct GradCase {
  int vocab, embed;
  int64_t n;
};

std::vector<GradCase> grad_cases() {
  std::vector<GradCase> cases;
  for (int vocab : kVocabSizes)
    for (int embed : kEmbedSizes)
      for (int64_t n : kTokenCounts) cases.push_back({vocab, embed, n});
  return cases;
}

// The CPU reference applied to a table that already holds values (the kernels add).
std::vector<float> reference_table_grad(const std::vector<float>& dtable, const std::vector<float>& dout,
                                        const std::vector<int32_t>& tokens, int embed) {
  std::vector<float> expected = dtable;
  embedding_backward(dout.data(), embed, tokens.data(), static_cast<int64_t>(tokens.size()),
                     expected.data());
  return expected;
}

TEST_F(KernelTest, EmbeddingGradAtomicMatchesReference) {
  uint64_t seed = 300;
  for (const auto& c : grad_cases()) {
    SCOPED_TRACE(testing::Message() << "vocab " << c.vocab << " embed " << c.embed << " n " << c.n);
    const auto dtable = random_floats(static_cast<size_t>(c.vocab) * c.embed, ++seed);
    const auto dout = random_floats(c.n * c.embed, ++seed);
    const auto tokens = random_tokens(c.n, c.vocab, ++seed);
    const auto expected = reference_table_grad(dtable, dout, tokens, c.embed);

    auto d_dtable = to_device(dtable, stream());
    auto d_dout = to_device(dout, stream());
    auto d_tokens = to_device(tokens, stream());
    cuda::embedding_grad_atomic(d_dout.data(), c.embed, d_tokens.data(), c.n, d_dtable.data(), stream());
    EXPECT_LE(relative_error(to_host(d_dtable, stream()), expected), kFp32Bound);
  }
}

TEST_F(KernelTest, EmbeddingGradSortedMatchesReferenceAndRepeatsBitwise) {
  uint64_t seed = 400;
  cuda::EmbeddingGradWorkspace workspace;  // reused across shapes, as in training
  for (const auto& c : grad_cases()) {
    SCOPED_TRACE(testing::Message() << "vocab " << c.vocab << " embed " << c.embed << " n " << c.n);
    const auto dtable = random_floats(static_cast<size_t>(c.vocab) * c.embed, ++seed);
    const auto dout = random_floats(c.n * c.embed, ++seed);
    const auto tokens = random_tokens(c.n, c.vocab, ++seed);
    const auto expected = reference_table_grad(dtable, dout, tokens, c.embed);

    auto d_dout = to_device(dout, stream());
    auto d_tokens = to_device(tokens, stream());
    std::vector<float> runs[2];
    for (auto& run : runs) {
      auto d_dtable = to_device(dtable, stream());
      cuda::embedding_grad(d_dout.data(), c.embed, d_tokens.data(), c.n, c.vocab, d_dtable.data(),
                           /*deterministic=*/true, workspace, stream());
      run = to_host(d_dtable, stream());
    }
    EXPECT_LE(relative_error(runs[0], expected), kExactBound);
    EXPECT_TRUE(same_bits(runs[0], runs[1]));
  }
}

TEST_F(KernelTest, EmbeddingGradFromHalfMatchesReference) {
  uint64_t seed = 500;
  cuda::EmbeddingGradWorkspace workspace;
  for (const auto& c : grad_cases()) {
    SCOPED_TRACE(testing::Message() << "vocab " << c.vocab << " embed " << c.embed << " n " << c.n);
    const auto dtable = random_floats(static_cast<size_t>(c.vocab) * c.embed, ++seed);
    auto dout = random_floats(c.n * c.embed, ++seed);
    std::vector<__half> dout_half(dout.size());
    for (size_t i = 0; i < dout.size(); ++i) {
      dout_half[i] = __float2half_rn(dout[i]);
      dout[i] = __half2float(dout_half[i]);  // the reference sees exactly the half values
    }
    const auto tokens = random_tokens(c.n, c.vocab, ++seed);
    const auto expected = reference_table_grad(dtable, dout, tokens, c.embed);

    auto d_dout = to_device(dout_half, stream());
    auto d_tokens = to_device(tokens, stream());
    for (bool deterministic : {false, true}) {
      SCOPED_TRACE(deterministic ? "sorted" : "atomic");
      auto d_dtable = to_device(dtable, stream());
      cuda::embedding_grad(d_dout.data(), c.embed, d_tokens.data(), c.n, c.vocab, d_dtable.data(),
                           deterministic, workspace, stream());
      EXPECT_LE(relative_error(to_host(d_dtable, stream()), expected), deterministic ? kExactBound : kFp32Bound);
    }
  }
}

TEST_F(KernelTest, EmbeddingGradLeavesUnusedRowsAlone) {
  const int vocab = 1000, embed = 3;
  const std::vector<int32_t> tokens = {5, 999, 5, 0};
  const auto dout = random_floats(tokens.size() * embed, 1);
  const auto dtable = random_floats(static_cast<size_t>(vocab) * embed, 2);
  cuda::EmbeddingGradWorkspace workspace;
  auto d_dout = to_device(dout, stream());
  auto d_tokens = to_device(tokens, stream());
  auto d_dtable = to_device(dtable, stream());
  cuda::embedding_grad_sorted(d_dout.data(), embed, d_tokens.data(), 4, vocab, d_dtable.data(),
                              workspace, stream());
  const auto got = to_host(d_dtable, stream());
  EXPECT_TRUE(same_bits(got, reference_table_grad(dtable, dout, tokens, embed)));
  for (int row : {1, 6, 998})
    for (int e = 0; e < embed; ++e) EXPECT_EQ(got[row * embed + e], dtable[row * embed + e]);
}

// ---- Batch packing ------------------------------------------------------------------------

// Reviews of random lengths (including empty ones, which read as one <unk>).
TokenSet random_token_set(int reviews, int max_length, uint64_t seed) {
  Rng rng(seed);
  TokenSet set;
  for (int r = 0; r < reviews; ++r) {
    const int length = r % 17 == 5 ? 0 : 1 + static_cast<int>(rng.below(max_length));
    const auto ids = random_tokens(length, 30000, seed * 1000 + r);
    set.add(ids.data(), ids.size(), static_cast<uint8_t>(r % 2));
  }
  return set;
}

struct DeviceBatch {
  DeviceBuffer<int32_t> reviews, lengths;
  DeviceBuffer<int64_t> step_offsets;
  std::vector<int64_t> host_offsets;
  DeviceBatch(const Batch& batch, cudaStream_t stream)
      : reviews(to_device(batch.reviews, stream)),
        lengths(to_device(batch.lengths, stream)),
        host_offsets(cuda::step_row_offsets(batch)) {
    step_offsets = to_device(host_offsets, stream);
  }
};

// Host-side helper: runs without a GPU.
TEST(KernelHostTest, StepRowOffsetsArePrefixSumsOfBatchSizes) {
  const TokenSet set = random_token_set(200, 60, 7);
  Rng rng(8);
  for (Padding padding : {Padding::None, Padding::Pre, Padding::Post})
    for (int batch_size : {1, 3, 64})
      for (const Batch& batch : make_batches(set, batch_size, BatchOrder::Random, padding, rng)) {
        const auto offsets = cuda::step_row_offsets(batch);
        const auto sizes = batch.batch_sizes();
        ASSERT_EQ(offsets.size(), sizes.size() + 1);
        EXPECT_EQ(offsets[0], 0);
        for (size_t t = 0; t < sizes.size(); ++t) EXPECT_EQ(offsets[t + 1] - offsets[t], sizes[t]);
        EXPECT_EQ(offsets.back(), batch.computed_tokens());
      }
}

TEST_F(KernelTest, PackBatchTokensMatchesAssembleTokens) {
  const TokenSet set = random_token_set(300, 90, 11);
  auto d_tokens = to_device(set.tokens, stream());
  auto d_offsets = to_device(set.offsets, stream());
  Rng rng(12);
  for (Padding padding : {Padding::None, Padding::Pre, Padding::Post})
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

TEST_F(KernelTest, FinalHiddenGatherAndScatter) {
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
          std::vector<float> expected_features(features_size), expected_dhy(hy_size, 0.0f);
          for (int b = 0; b < batch; ++b)
            for (int d = 0; d < dirs; ++d)
              for (int h = 0; h < hidden; ++h) {
                const size_t src = ((static_cast<size_t>(layers - 1) * dirs + d) * batch + b) * hidden + h;
                const size_t dst = (static_cast<size_t>(b) * dirs + d) * hidden + h;
                expected_features[dst] = hy[src];
                expected_dhy[src] = dfeatures[dst];
              }
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

TEST_F(KernelTest, GatherLabelsPicksEachReviewsLabel) {
  const TokenSet set = random_token_set(300, 5, 31);
  auto d_labels = to_device(set.labels, stream());
  Rng rng(32);
  for (int batch_size : {1, 3, 64, 300}) {
    const Batch batch = make_batches(set, batch_size, BatchOrder::Random, Padding::None, rng).front();
    std::vector<uint8_t> expected(batch.size());
    for (int b = 0; b < batch.size(); ++b) expected[b] = set.labels[static_cast<size_t>(batch.reviews[b])];
    auto d_reviews = to_device(batch.reviews, stream());
    auto d_out = poisoned<uint8_t>(expected.size(), stream());
    cuda::gather_labels(d_labels.data(), d_reviews.data(), batch.size(), d_out.data(), stream());
    EXPECT_EQ(to_host(d_out, stream()), expected) << "batch " << batch_size;
  }
}

// ---- Softmax cross-entropy ----------------------------------------------------------------

TEST_F(KernelTest, SoftmaxXentMatchesReference) {
  uint64_t seed = 800;
  for (int classes : {2, 3, 5})
    for (int batch : {1, 3, 64, 1000}) {
      SCOPED_TRACE(testing::Message() << "classes " << classes << " batch " << batch);
      auto logits = random_floats(static_cast<size_t>(batch) * classes, ++seed, -4.0f, 4.0f);
      // Some rows tie, so the first-argmax rule is exercised.
      for (int b = 2; b < batch; b += 7)
        for (int c = 0; c < classes; ++c) logits[static_cast<size_t>(b) * classes + c] = 0.25f;
      std::vector<uint8_t> labels(batch);
      Rng rng(++seed);
      for (auto& label : labels) label = static_cast<uint8_t>(rng.below(classes));

      std::vector<float> expected_dlogits(logits.size()), expected_prob(batch);
      int64_t expected_correct = 0;
      const double expected_loss = softmax_xent(logits.data(), labels.data(), batch, classes,
                                                expected_dlogits.data(), &expected_correct,
                                                expected_prob.data());

      auto d_logits = to_device(logits, stream());
      auto d_labels = to_device(labels, stream());
      auto d_dlogits = poisoned<float>(logits.size(), stream());
      auto d_prob = poisoned<float>(batch, stream());
      // The accumulators start from earlier batches' totals.
      const double start_loss = 12.5;
      const unsigned long long start_correct = 40;
      auto d_loss = to_device(std::vector<double>{start_loss}, stream());
      auto d_correct = to_device(std::vector<unsigned long long>{start_correct}, stream());
      cuda::softmax_xent_batch(d_logits.data(), d_labels.data(), batch, classes, d_dlogits.data(),
                               d_prob.data(), d_loss.data(), d_correct.data(), stream());
      EXPECT_LE(relative_error(to_host(d_dlogits, stream()), expected_dlogits), kExactBound);
      EXPECT_LE(relative_error(to_host(d_prob, stream()), expected_prob), kExactBound);
      EXPECT_NEAR(to_host(d_loss, stream())[0], start_loss + expected_loss, 1e-9 * (start_loss + expected_loss));
      EXPECT_EQ(to_host(d_correct, stream())[0], start_correct + static_cast<unsigned long long>(expected_correct));

      // Forward only (evaluation): no gradient, accumulators keep adding.
      cuda::softmax_xent_batch(d_logits.data(), d_labels.data(), batch, classes, nullptr, nullptr,
                               d_loss.data(), d_correct.data(), stream());
      EXPECT_NEAR(to_host(d_loss, stream())[0], start_loss + 2 * expected_loss,
                  1e-9 * (start_loss + 2 * expected_loss));
      EXPECT_EQ(to_host(d_correct, stream())[0],
                start_correct + 2 * static_cast<unsigned long long>(expected_correct));
    }
}

// ---- Dropout ------------------------------------------------------------------------------

TEST_F(KernelTest, DropoutMaskIsZeroOrScaleWithTheKeptFraction) {
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

TEST_F(KernelTest, DropoutIsDeterministicPerSeedAndStep) {
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

TEST_F(KernelTest, DropoutWithZeroProbabilityCopies) {
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

// ---- Clipping and Adam --------------------------------------------------------------------

const size_t kFlatSizes[] = {1, 255, 256 * 256 + 1, (size_t{1} << 20) + 3};

TEST_F(KernelTest, SumOfSquaresAndClipScaleMatchReference) {
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
TEST_F(KernelTest, ClipScaleUndoesTheLossScale) {
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

TEST_F(KernelTest, AdamMatchesReferenceOverSeveralSteps) {
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

TEST_F(KernelTest, ClipThenAdamMatchesReference) {
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

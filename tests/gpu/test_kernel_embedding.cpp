// The embedding kernels (kernels/embedding.h) against the CPU reference (cpu/cpu_ops.h):
// gather to fp32 and fp16, and the gradient by atomics, by sorting (bitwise repeatable) and
// from fp16, over odd widths, token counts off the block size and vocabularies with many repeats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "kernels/embedding.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

constexpr double kFp32Bound = 1e-5;
constexpr double kExactBound = 1e-6;
const int kEmbedSizes[] = {1, 100, 128, 300};
const int64_t kTokenCounts[] = {1, 37, 1000, 4099};
const int kVocabSizes[] = {7, 5003};  // 7: nearly every token repeats

class EmbeddingKernel : public GpuTest {};

TEST_F(EmbeddingKernel, EmbeddingGatherCopiesRowsExactly) {
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

TEST_F(EmbeddingKernel, EmbeddingGatherToHalfRoundsEachValue) {
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

TEST_F(EmbeddingKernel, EmbeddingGradAtomicMatchesReference) {
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

TEST_F(EmbeddingKernel, EmbeddingGradSortedMatchesReferenceAndRepeatsBitwise) {
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

TEST_F(EmbeddingKernel, EmbeddingGradFromHalfMatchesReference) {
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

TEST_F(EmbeddingKernel, EmbeddingGradLeavesUnusedRowsAlone) {
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

}  // namespace
}  // namespace rnnb::test

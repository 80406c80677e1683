// Batch formation and the packed token layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/batching.h"
#include "util/error.h"

namespace rnnb {
namespace {

TokenizedSplit make_set(const std::vector<std::vector<int32_t>>& reviews) {
  TokenizedSplit set;
  for (size_t i = 0; i < reviews.size(); ++i) set.add(reviews[i].data(), reviews[i].size(), i % 2);
  return set;
}

TEST(Batching, SortsLongestFirstAndCoversEveryReviewOnce) {
  std::vector<std::vector<int32_t>> reviews;
  Rng lengths(3);
  for (int i = 0; i < 103; ++i) reviews.push_back(std::vector<int32_t>(1 + lengths.below(40), 5));
  const TokenizedSplit set = make_set(reviews);
  for (BatchOrder order : {BatchOrder::Random, BatchOrder::Bucket, BatchOrder::Sequential}) {
    Rng rng(7);
    const auto batches = make_batches(set, 10, order, Padding::Packed, rng);
    EXPECT_EQ(batches.size(), 11u);
    std::multiset<int32_t> seen;
    for (const Batch& b : batches) {
      EXPECT_TRUE(std::is_sorted(b.lengths.rbegin(), b.lengths.rend()));
      EXPECT_EQ(b.steps, b.lengths.front());
      for (int i = 0; i < b.size(); ++i) {
        EXPECT_EQ(b.lengths[i], set.length(b.reviews[i]));
        seen.insert(b.reviews[i]);
      }
    }
    EXPECT_EQ(seen.size(), 103u);
    EXPECT_EQ(std::set<int32_t>(seen.begin(), seen.end()).size(), 103u);
  }
}

TEST(Batching, BucketGroupsSimilarLengths) {
  std::vector<std::vector<int32_t>> reviews;
  Rng lengths(5);
  for (int i = 0; i < 2000; ++i) reviews.push_back(std::vector<int32_t>(1 + lengths.below(500), 5));
  const TokenizedSplit set = make_set(reviews);
  auto overhead = [&](BatchOrder order) {
    Rng rng(1);
    int64_t real = 0, padded = 0;
    for (const Batch& b : make_batches(set, 32, order, Padding::Post, rng)) {
      real += b.real_tokens();
      padded += b.computed_tokens();
    }
    return static_cast<double>(padded) / real;
  };
  EXPECT_GT(overhead(BatchOrder::Random), 1.5);
  EXPECT_LT(overhead(BatchOrder::Bucket), 1.05);
}

TEST(Batching, SameSeedSameOrder) {
  std::vector<std::vector<int32_t>> reviews(50, std::vector<int32_t>(3, 2));
  const TokenizedSplit set = make_set(reviews);
  Rng a(11), b(11), c(12);
  const auto x = make_batches(set, 8, BatchOrder::Random, Padding::Packed, a);
  const auto y = make_batches(set, 8, BatchOrder::Random, Padding::Packed, b);
  const auto z = make_batches(set, 8, BatchOrder::Random, Padding::Packed, c);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].reviews, y[i].reviews);
  bool differs = false;
  for (size_t i = 0; i < x.size(); ++i) differs |= x[i].reviews != z[i].reviews;
  EXPECT_TRUE(differs);
}

TEST(Batching, PackedLayoutIsTimeMajorOverActiveSequences) {
  const TokenizedSplit set = make_set({{10, 11}, {20, 21, 22, 23}, {30}});
  Rng rng(0);
  const auto batches = make_batches(set, 3, BatchOrder::Sequential, Padding::Packed, rng);
  ASSERT_EQ(batches.size(), 1u);
  const Batch& b = batches[0];
  EXPECT_EQ(b.reviews, (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(b.batch_sizes(), (std::vector<int>{3, 2, 1, 1}));
  std::vector<int32_t> tokens;
  assemble_tokens(set, b, tokens);
  EXPECT_EQ(tokens, (std::vector<int32_t>{20, 10, 30, 21, 11, 22, 23}));
  EXPECT_EQ(b.real_tokens(), 7);
  EXPECT_EQ(b.computed_tokens(), 7);
}

TEST(Batching, PrePaddingEndsEveryReviewAtTheLastStep) {
  const TokenizedSplit set = make_set({{10, 11}, {20, 21, 22}});
  Rng rng(0);
  const Batch b = make_batches(set, 2, BatchOrder::Sequential, Padding::Pre, rng)[0];
  EXPECT_EQ(b.batch_sizes(), (std::vector<int>{2, 2, 2}));
  std::vector<int32_t> tokens;
  assemble_tokens(set, b, tokens);
  EXPECT_EQ(tokens, (std::vector<int32_t>{20, kPadId, 21, 10, 22, 11}));
  EXPECT_EQ(b.computed_tokens(), 6);
}

TEST(Batching, PostPaddingFillsAfterTheText) {
  const TokenizedSplit set = make_set({{10, 11}, {20, 21, 22}});
  Rng rng(0);
  const Batch b = make_batches(set, 2, BatchOrder::Sequential, Padding::Post, rng)[0];
  std::vector<int32_t> tokens;
  assemble_tokens(set, b, tokens);
  EXPECT_EQ(tokens, (std::vector<int32_t>{20, 10, 21, 11, 22, kPadId}));
}

TEST(Batching, EmptyReviewReadsAsOneUnknownToken) {
  const TokenizedSplit set = make_set({{}, {7}});
  Rng rng(0);
  const Batch b = make_batches(set, 2, BatchOrder::Sequential, Padding::Packed, rng)[0];
  EXPECT_EQ(b.lengths, (std::vector<int32_t>{1, 1}));
  std::vector<int32_t> tokens;
  assemble_tokens(set, b, tokens);
  EXPECT_EQ(tokens, (std::vector<int32_t>{kUnkId, 7}));
}

TEST(Batching, RejectsZeroBatchSize) {
  const TokenizedSplit set = make_set({{1}});
  Rng rng(0);
  EXPECT_THROW(make_batches(set, 0, BatchOrder::Random, Padding::Packed, rng), Error);
}

}  // namespace
}  // namespace rnnb

// Vocabulary: specials first, order by count then bytes, min_freq and max_vocab limits,
// lookups and the fingerprint.
#include <gtest/gtest.h>

#include "data/vocab.h"
#include "util/error.h"

namespace rnnb {
namespace {

using Counts = std::vector<std::pair<std::string, int64_t>>;
using Words = std::vector<std::string>;

TEST(Vocab, DefaultHoldsOnlyTheSpecials) {
  const Vocab vocab;
  EXPECT_EQ(vocab.size(), 2);
  EXPECT_EQ(vocab.word(kPadId), "<pad>");
  EXPECT_EQ(vocab.word(kUnkId), "<unk>");
  EXPECT_EQ(vocab.id("anything"), kUnkId);
}

TEST(Vocab, OrdersByDescendingCountThenBytes) {
  const Vocab vocab = Vocab::build({{"b", 3}, {"a", 3}, {"z", 9}, {"B", 3}, {"c", 1}}, 1, 0);
  EXPECT_EQ(vocab.words(), (Words{"<pad>", "<unk>", "z", "B", "a", "b", "c"}));
  EXPECT_EQ(vocab.id("z"), 2);
  EXPECT_EQ(vocab.id("c"), 6);
  EXPECT_EQ(vocab.word(4), "a");
}

TEST(Vocab, MinFreqDropsRareWords) {
  const Vocab vocab = Vocab::build({{"often", 5}, {"edge", 2}, {"rare", 1}}, 2, 0);
  EXPECT_EQ(vocab.words(), (Words{"<pad>", "<unk>", "often", "edge"}));
  EXPECT_EQ(vocab.id("rare"), kUnkId);
}

TEST(Vocab, MaxVocabCountsTheSpecials) {
  const Counts counts{{"a", 4}, {"b", 3}, {"c", 2}, {"d", 1}};
  EXPECT_EQ(Vocab::build(counts, 1, 4).words(), (Words{"<pad>", "<unk>", "a", "b"}));
  EXPECT_EQ(Vocab::build(counts, 1, 2).size(), 2);
  EXPECT_EQ(Vocab::build(counts, 1, 100).size(), 6);
  EXPECT_THROW(Vocab::build(counts, 1, 1), Error);
}

TEST(Vocab, FromWordsRoundTripsAndChecksItsInput) {
  const Vocab built = Vocab::build({{"x", 2}, {"y", 1}}, 1, 0);
  const Vocab restored = Vocab::from_words(built.words());
  EXPECT_EQ(restored.words(), built.words());
  EXPECT_EQ(restored.fingerprint(), built.fingerprint());
  EXPECT_EQ(restored.id("y"), 3);
  EXPECT_THROW(Vocab::from_words({"x", "y"}), Error);
  EXPECT_THROW(Vocab::from_words({"<pad>", "<unk>", "x", "x"}), Error);
}

TEST(Vocab, CopiesKeepWorkingLookups) {
  Vocab copy;
  {
    const Vocab original = Vocab::build({{"word", 3}}, 1, 0);
    copy = original;
  }
  EXPECT_EQ(copy.id("word"), 2);
}

TEST(Vocab, FingerprintFollowsWordsAndOrder) {
  const uint64_t base = Vocab::from_words({"<pad>", "<unk>", "ab", "c"}).fingerprint();
  EXPECT_EQ(Vocab::from_words({"<pad>", "<unk>", "ab", "c"}).fingerprint(), base);
  EXPECT_NE(Vocab::from_words({"<pad>", "<unk>", "c", "ab"}).fingerprint(), base);
  EXPECT_NE(Vocab::from_words({"<pad>", "<unk>", "a", "bc"}).fingerprint(), base);
  EXPECT_NE(Vocab::from_words({"<pad>", "<unk>", "ab"}).fingerprint(), base);
}

}  // namespace
}  // namespace rnnb

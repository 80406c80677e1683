// Tokenizer rules: lowercasing, <br /> tags, word runs, punctuation tokens, UTF-8 bytes,
// and the <unk> stand-in for reviews without tokens.
#include <gtest/gtest.h>

#include "data/tokenized_corpus.h"
#include "data/tokenizer.h"

namespace rnnb {
namespace {

using Tokens = std::vector<std::string>;

TEST(Tokenizer, LowercasesAndSplitsOnWhitespace) {
  EXPECT_EQ(tokenize("The Movie\twas\nGREAT"), (Tokens{"the", "movie", "was", "great"}));
  EXPECT_EQ(tokenize("  a \r\n\v\f b  "), (Tokens{"a", "b"}));
}

TEST(Tokenizer, BreakTagsBecomeSpaces) {
  EXPECT_EQ(tokenize("end.<br /><br />Next"), (Tokens{"end", ".", "next"}));
  EXPECT_EQ(tokenize("a<BR />b"), (Tokens{"a", "b"}));
  // Only the exact "<br />" form is a tag; others are ordinary punctuation and words.
  EXPECT_EQ(tokenize("a<br/>b"), (Tokens{"a", "<", "br", "/", ">", "b"}));
}

TEST(Tokenizer, ApostrophesAndDigitsStayInWords) {
  EXPECT_EQ(tokenize("Don't say '80s, it's 10/10"),
            (Tokens{"don't", "say", "'80s", ",", "it's", "10", "/", "10"}));
}

TEST(Tokenizer, EveryPunctuationByteIsItsOwnToken) {
  EXPECT_EQ(tokenize("wow!!! (really?)"), (Tokens{"wow", "!", "!", "!", "(", "really", "?", ")"}));
  EXPECT_EQ(tokenize("well-made"), (Tokens{"well", "-", "made"}));
  EXPECT_EQ(tokenize("\"quoted\""), (Tokens{"\"", "quoted", "\""}));
}

TEST(Tokenizer, HighBytesAreWordBytesAndKeepTheirCase) {
  // "Café Über" in UTF-8: the accented letters stay inside their words, unchanged.
  EXPECT_EQ(tokenize("Caf\xc3\xa9 \xc3\x9c" "ber!"), (Tokens{"caf\xc3\xa9", "\xc3\x9c" "ber", "!"}));
  EXPECT_EQ(tokenize("\x80\xff"), (Tokens{"\x80\xff"}));
}

TEST(Tokenizer, ReusedBuffersGiveTheSameTokens) {
  std::string lowered;
  std::vector<std::string_view> views;
  tokenize("First Review, longer than the second one.", lowered, views);
  tokenize("Short<br />one", lowered, views);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0], "short");
  EXPECT_EQ(views[1], "one");
}

TEST(Tokenizer, NumericalizeMapsWordsAndUnknowns) {
  const Vocab vocab = Vocab::from_words({"<pad>", "<unk>", "good", "film", "!"});
  EXPECT_EQ(numericalize("Good film!", vocab), (std::vector<int32_t>{2, 3, 4}));
  EXPECT_EQ(numericalize("bad film", vocab), (std::vector<int32_t>{kUnkId, 3}));
}

TEST(Tokenizer, ReviewsWithoutTokensBecomeOneUnk) {
  const Vocab vocab;
  EXPECT_TRUE(tokenize("").empty());
  EXPECT_TRUE(tokenize(" \n\t<br /><br /> ").empty());
  EXPECT_EQ(numericalize("", vocab), (std::vector<int32_t>{kUnkId}));
  EXPECT_EQ(numericalize("  <br />\n ", vocab), (std::vector<int32_t>{kUnkId}));
}

// Word counts and every review's words must not depend on how many threads tokenized them.
TEST(TokenizedCorpus, ResultDoesNotDependOnThreads) {
  std::vector<std::string> storage;
  for (int i = 0; i < 9000; ++i)
    storage.push_back(i % 997 == 0 ? std::string(" ")
                                   : "Word" + std::to_string(i % 613) + " and w" +
                                         std::to_string(i % 37) + "!<br />Again " + std::to_string(i));
  const std::vector<std::string_view> texts(storage.begin(), storage.end());
  const size_t counted = 5000;
  const TokenizedCorpus one = tokenize_corpus(texts, counted, 1);
  const TokenizedCorpus four = tokenize_corpus(texts, counted, 4);
  ASSERT_EQ(one.offsets, four.offsets);
  ASSERT_EQ(one.words.size(), four.words.size());
  ASSERT_EQ(one.offsets.size(), texts.size() + 1);
  for (size_t k = 0; k < one.ids.size(); ++k) {
    ASSERT_EQ(one.ids[k] < 0, four.ids[k] < 0) << k;
    if (one.ids[k] >= 0) {
      ASSERT_EQ(one.words.word(one.ids[k]), four.words.word(four.ids[k])) << k;
    }
  }
  // Counts cover texts[0, counted) only: "again" appears once in each text, "5000" never.
  auto count_of = [](const TokenizedCorpus& c, std::string_view word) -> int64_t {
    for (int32_t id = 0; id < c.words.size(); ++id)
      if (c.words.word(id) == word) return c.counts[static_cast<size_t>(id)];
    return -1;
  };
  const int64_t empty_counted = 6;  // i = 0, 997, ..., 4985 are blank
  EXPECT_EQ(count_of(one, "again"), static_cast<int64_t>(counted) - empty_counted);
  EXPECT_EQ(count_of(four, "again"), static_cast<int64_t>(counted) - empty_counted);
  EXPECT_EQ(count_of(four, "5000"), 0);
  EXPECT_EQ(count_of(four, "word5"), count_of(one, "word5"));
  EXPECT_EQ(one.ids[static_cast<size_t>(one.offsets[0])], -1);  // text 0 is blank
}

}  // namespace
}  // namespace rnnb

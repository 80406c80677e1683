// Tokenizer rules: lowercasing, <br /> tags, word runs, punctuation tokens, UTF-8 bytes,
// and the <unk> stand-in for reviews without tokens.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace rnnb

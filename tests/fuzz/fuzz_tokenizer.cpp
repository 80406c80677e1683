// libFuzzer target: the tokenizer and numericalize on arbitrary bytes (invalid UTF-8, NULs,
// control bytes), checking the documented invariants: tokens are non-empty, hold no ASCII
// whitespace or upper-case letters, a multi-byte token holds only word bytes, and
// numericalize always yields at least one id, each inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"
#include "data/vocab.h"

namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

const rnnb::Vocab& vocab() {
  static const rnnb::Vocab v = rnnb::Vocab::from_words({"<pad>", "<unk>", "the", "film", "!", "don't", "\xc3\xa9t\xc3\xa9"});
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string lowered;
  std::vector<std::string_view> tokens;
  rnnb::tokenize(text, lowered, tokens);
  for (std::string_view token : tokens) {
    if (token.empty()) __builtin_trap();
    for (unsigned char c : token) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') __builtin_trap();
      if (c >= 'A' && c <= 'Z') __builtin_trap();
      if (token.size() > 1 && !is_word_byte(c)) __builtin_trap();
    }
  }
  const std::vector<int32_t> ids = rnnb::numericalize(text, vocab());
  if (ids.empty()) __builtin_trap();
  for (int32_t id : ids)
    if (id < 1 || id >= static_cast<int32_t>(vocab().size())) __builtin_trap();
  return 0;
}

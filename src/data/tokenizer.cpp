// Tokenizer: lowercase, "<br />" to space, word runs and single-byte punctuation tokens.
#include "data/tokenizer.h"

#include <array>
#include <cstring>

namespace rnnb {
namespace {

enum ByteClass : uint8_t { kSpace = 0, kWord = 1, kSingle = 2 };

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> classes{};
  for (int b = 0; b < 256; ++b) {
    uint8_t c = kSingle;
    if (b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r') c = kSpace;
    else if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '\'' || b >= 0x80) c = kWord;
    else if (b >= 'A' && b <= 'Z') c = kWord;  // lowercased as it is copied
    classes[static_cast<size_t>(b)] = c;
  }
  return classes;
}

constexpr std::array<uint8_t, 256> kClasses = make_classes();

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// True when text[i..] reads "<br />" in any letter case.
inline bool is_break_tag(std::string_view text, size_t i) {
  if (i + 6 > text.size()) return false;
  const char* p = text.data() + i;
  return p[0] == '<' && lower(p[1]) == 'b' && lower(p[2]) == 'r' && p[3] == ' ' && p[4] == '/' &&
         p[5] == '>';
}

}  // namespace

void tokenize(std::string_view text, std::string& lowered, std::vector<std::string_view>& tokens) {
  // One pass: tokens are copied lowercased into `lowered` as they are found. '<' is a
  // single-byte token, never inside a word, so "<br />" only has to be looked for where a
  // token would start.
  lowered.resize(text.size());
  tokens.clear();
  char* out = lowered.data();
  const char* in = text.data();
  const size_t size = text.size();
  size_t n = 0;
  size_t i = 0;
  while (i < size) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    const uint8_t cls = kClasses[c];
    if (cls == kWord) {
      const size_t start = n;
      do {
        out[n++] = lower(in[i++]);
      } while (i < size && kClasses[static_cast<unsigned char>(in[i])] == kWord);
      tokens.emplace_back(out + start, n - start);
    } else if (cls == kSpace) {
      ++i;
    } else if (c == '<' && is_break_tag(text, i)) {
      i += 6;  // acts as a space
    } else {
      out[n] = static_cast<char>(c);
      tokens.emplace_back(out + n, 1);
      ++n;
      ++i;
    }
  }
  lowered.resize(n);  // never grows, so the views stay valid
}

std::vector<std::string> tokenize(std::string_view text) {
  std::string lowered;
  std::vector<std::string_view> views;
  tokenize(text, lowered, views);
  return std::vector<std::string>(views.begin(), views.end());
}

std::vector<int32_t> numericalize(std::string_view text, const Vocab& vocab) {
  std::string lowered;
  std::vector<std::string_view> views;
  tokenize(text, lowered, views);
  std::vector<int32_t> ids;
  ids.reserve(views.empty() ? 1 : views.size());
  for (std::string_view token : views) ids.push_back(vocab.id(token));
  if (ids.empty()) ids.push_back(kUnkId);
  return ids;
}

}  // namespace rnnb

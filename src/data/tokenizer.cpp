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
    // Uppercase never reaches the scanner (lowered first), but classify it as a word byte.
    else if (b >= 'A' && b <= 'Z') c = kWord;
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
  lowered.resize(text.size());
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '<' && is_break_tag(text, i)) {
      lowered[n++] = ' ';
      i += 6;
    } else {
      lowered[n++] = lower(c);
      ++i;
    }
  }
  lowered.resize(n);

  tokens.clear();
  const char* data = lowered.data();
  size_t i = 0;
  while (i < n) {
    const uint8_t cls = kClasses[static_cast<unsigned char>(data[i])];
    if (cls == kSpace) {
      ++i;
    } else if (cls == kSingle) {
      tokens.emplace_back(data + i, 1);
      ++i;
    } else {
      const size_t start = i;
      while (i < n && kClasses[static_cast<unsigned char>(data[i])] == kWord) ++i;
      tokens.emplace_back(data + start, i - start);
    }
  }
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

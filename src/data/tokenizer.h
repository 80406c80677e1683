// The tokenizer, fixed because cached token ids and checkpoints depend on it (bump
// kTokenizerVersion on any change):
//   1. ASCII letters are lowercased (other bytes are kept as they are);
//   2. every "<br />" (in any letter case) becomes a space;
//   3. a token is a maximal run of [a-z0-9'] and bytes >= 0x80 (UTF-8 text stays whole);
//      every other byte that is not ASCII whitespace (space, \t, \n, \v, \f, \r) is a
//      token of its own: "don't stop!!" -> [don't] [stop] [!] [!].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/vocab.h"

namespace rnnb {

inline constexpr uint32_t kTokenizerVersion = 1;

// Fills `tokens` with views into `lowered`, which receives the lowercased text; both are
// overwritten, so reusing them across calls avoids allocating per review or per token.
void tokenize(std::string_view text, std::string& lowered, std::vector<std::string_view>& tokens);

// Convenience form (allocates each token).
std::vector<std::string> tokenize(std::string_view text);

// Token ids of `text` (kUnkId for words not in the vocabulary). A text with no tokens
// (empty or only whitespace) becomes the single token <unk>, so every review has at least
// one token: batching, packed sequences and the RNN all rely on lengths >= 1.
std::vector<int32_t> numericalize(std::string_view text, const Vocab& vocab);

}  // namespace rnnb

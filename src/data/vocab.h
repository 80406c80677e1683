// The vocabulary: token id <-> word. Ids 0 and 1 are <pad> and <unk>; the words follow by
// descending training-split count, ties in byte order, so the same training text always
// gives the same ids. The fingerprint ties checkpoints and caches to one exact vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenized_split.h"

namespace rnnb {

inline constexpr const char* kPadWord = "<pad>";
inline constexpr const char* kUnkWord = "<unk>";

class Vocab {
 public:
  Vocab();  // just <pad> and <unk>

  // From (word, count) pairs counted over the training split: the words seen at least
  // min_freq times, most frequent first (ties in byte order), cut to max_vocab ids in all,
  // the two specials included (0 = no limit). Words must be distinct.
  static Vocab build(std::vector<std::pair<std::string, int64_t>> counts, int min_freq,
                     int max_vocab);
  // From a saved word list (as words() returns it: <pad>, <unk>, then the words).
  // Throws Error when the specials are missing or a word repeats.
  static Vocab from_words(std::vector<std::string> words);

  int32_t id(std::string_view word) const;  // kUnkId when absent
  const std::string& word(int32_t id) const;  // RNNB_ASSERTs the id is in range
  const std::vector<std::string>& words() const { return words_; }
  int32_t size() const { return static_cast<int32_t>(words_.size()); }
  // FNV-1a (64-bit) over every word in id order, each followed by a 0 byte.
  uint64_t fingerprint() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void index_words();

  std::vector<std::string> words_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
};

}  // namespace rnnb

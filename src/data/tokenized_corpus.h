// Tokenizes many reviews at once, on several threads, into one provisional numbering of
// every distinct token, with counts over a chosen prefix of the reviews (the training
// split). The dataset loader turns these ids into vocabulary ids; the result does not
// depend on the number of threads.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "data/word_table.h"

namespace rnnb {

struct TokenizedCorpus {
  WordTable words;              // every distinct token seen
  std::vector<int64_t> counts;  // per word: occurrences in the counted reviews
  std::vector<int32_t> ids;     // word ids of all reviews end to end; -1 marks an empty review
  std::vector<int64_t> offsets{0};  // reviews + 1 entries
};

// Tokenizes texts[i] for every i; counts words only in texts[0, counted). threads <= 0
// picks the hardware concurrency (at most 8).
TokenizedCorpus tokenize_corpus(const std::vector<std::string_view>& texts, size_t counted,
                                int threads = 0);

}  // namespace rnnb

// Vocabulary construction, lookup and fingerprint.
#include "data/vocab.h"

#include <algorithm>

#include "util/error.h"

namespace rnnb {

Vocab::Vocab() : words_{kPadWord, kUnkWord} { index_words(); }

void Vocab::index_words() {
  ids_.clear();
  ids_.reserve(words_.size());
  for (size_t i = 0; i < words_.size(); ++i) {
    if (!ids_.emplace(words_[i], static_cast<int32_t>(i)).second)
      fail("vocabulary lists the word '" + words_[i] + "' twice");
  }
}

Vocab Vocab::build(std::vector<std::pair<std::string, int64_t>> counts, int min_freq,
                   int max_vocab) {
  if (min_freq < 1) min_freq = 1;
  if (max_vocab != 0 && max_vocab < 2)
    fail("--max-vocab must be 0 (no limit) or at least 2 (it counts <pad> and <unk>)");
  std::erase_if(counts, [&](const auto& wc) { return wc.second < min_freq; });
  std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;  // std::string compares bytes as unsigned char
  });
  size_t keep = counts.size();
  if (max_vocab > 0) keep = std::min(keep, static_cast<size_t>(max_vocab) - 2);
  Vocab vocab;
  vocab.words_.reserve(keep + 2);
  for (size_t i = 0; i < keep; ++i) vocab.words_.push_back(std::move(counts[i].first));
  vocab.index_words();
  return vocab;
}

Vocab Vocab::from_words(std::vector<std::string> words) {
  if (words.size() < 2 || words[0] != kPadWord || words[1] != kUnkWord)
    fail("vocabulary must start with <pad> and <unk>");
  Vocab vocab;
  vocab.words_ = std::move(words);
  vocab.index_words();
  return vocab;
}

int32_t Vocab::id(std::string_view word) const {
  auto it = ids_.find(word);
  return it == ids_.end() ? kUnkId : it->second;
}

const std::string& Vocab::word(int32_t id) const {
  RNNB_ASSERT(id >= 0 && id < size());
  return words_[static_cast<size_t>(id)];
}

uint64_t Vocab::fingerprint() const {
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&](unsigned char byte) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  };
  for (const std::string& w : words_) {
    for (char c : w) mix(static_cast<unsigned char>(c));
    mix(0);
  }
  return hash;
}

}  // namespace rnnb

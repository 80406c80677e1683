// Test helpers for finding the real IMDB data and making small synthetic datasets.
#pragma once

#include <string>

#include "data/imdb_source.h"
#include "data/token_set.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb::testing {

// The real dataset, or "" when this machine has none (tests then SKIP).
inline std::string real_dataset_path() {
  const std::string beside_source = std::string(RNNB_SOURCE_DIR) + "/../shared/datasets/aclImdb_v1_labeled.tar.gz";
  try {
    return find_dataset("");
  } catch (const Error&) {
  }
  try {
    return find_dataset(beside_source);
  } catch (const Error&) {
    return "";
  }
}

// A learnable toy task: label 1 when token 2 appears more often than token 3; other tokens
// are noise from [4, vocab).
inline TokenSet synthetic_set(int reviews, int vocab, uint64_t seed) {
  Rng rng(seed);
  TokenSet set;
  std::vector<int32_t> ids;
  for (int r = 0; r < reviews; ++r) {
    const int length = 3 + static_cast<int>(rng.below(12));
    const uint8_t label = static_cast<uint8_t>(rng.below(2));
    ids.clear();
    for (int t = 0; t < length; ++t) ids.push_back(4 + static_cast<int32_t>(rng.below(vocab - 4)));
    ids[rng.below(length)] = label ? 2 : 3;
    set.add(ids.data(), ids.size(), label);
  }
  return set;
}

}  // namespace rnnb::testing

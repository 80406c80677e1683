// Test helpers for finding the real IMDB data and making small synthetic datasets.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "data/imdb_source.h"
#include "data/tokenized_split.h"
#include "train/checkpoint.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb::test {

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
inline TokenizedSplit synthetic_split(int reviews, int vocab, uint64_t seed) {
  Rng rng(seed);
  TokenizedSplit set;
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

// Reviews of 1..max_len random tokens in [2, vocab) with random labels. With empty_every
// > 0, every empty_every-th review has no tokens (it reads as one <unk>).
inline TokenizedSplit random_split(int reviews, int vocab, int max_len, uint64_t seed, int empty_every = 0) {
  Rng rng(seed);
  TokenizedSplit set;
  std::vector<int32_t> ids;
  for (int r = 0; r < reviews; ++r) {
    ids.resize(empty_every > 0 && r % empty_every == empty_every - 1 ? 0 : 1 + rng.below(static_cast<uint64_t>(max_len)));
    for (auto& id : ids) id = static_cast<int32_t>(2 + rng.below(static_cast<uint64_t>(vocab - 2)));
    set.add(ids.data(), ids.size(), static_cast<uint8_t>(rng.below(2)));
  }
  return set;
}

// An empty folder named for the test and this process (created anew).
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("rnnb_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// What the trainer writes into checkpoints, for a model with a placeholder vocabulary.
inline Checkpoint checkpoint_base(const ModelConfig& model, const OptimConfig& optim) {
  Checkpoint base;
  base.model = model;
  base.optim = optim;
  for (int i = 0; i < model.vocab_size; ++i) base.vocab.push_back(std::string(1, 'w').append(std::to_string(i)));
  return base;
}

}  // namespace rnnb::test

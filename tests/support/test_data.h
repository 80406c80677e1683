// Test helpers for finding the real IMDB data and making small synthetic datasets.
#pragma once

#include <stdlib.h>
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

// A new, empty, uniquely named folder (rnnb_<name>_XXXXXX under the system's temp folder),
// removed with everything in it when the object goes. Converts to its path.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "test") {
    std::string pattern = (std::filesystem::temp_directory_path() / ("rnnb_" + name + "_XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw Error("cannot create a temp folder like " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  operator const std::filesystem::path&() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::string string() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The IMDB archive for the tests that read real reviews; they skip without it.
inline constexpr const char* kNoImdb = "IMDB dataset not found (run datasets/fetch_imdb.sh or set RNNB_DATA)";
#define RNNB_IMDB_OR_SKIP(variable)                            \
  const std::string variable = ::rnnb::test::real_dataset_path(); \
  if (variable.empty()) GTEST_SKIP() << ::rnnb::test::kNoImdb

// What the trainer writes into checkpoints, for a model with a placeholder vocabulary.
inline Checkpoint checkpoint_base(const ModelConfig& model, const OptimConfig& optim) {
  Checkpoint base;
  base.model = model;
  base.optim = optim;
  for (int i = 0; i < model.vocab_size; ++i) base.vocab.push_back(std::string(1, 'w').append(std::to_string(i)));
  return base;
}

}  // namespace rnnb::test

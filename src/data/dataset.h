// The IMDB dataset, ready for training: vocabulary plus numericalized train, validation
// and test splits. Built from the raw reviews (read_imdb) or from a numericalized cache
// that remembers everything it was built from, so repeated runs skip the tokenizing.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/tokenized_split.h"
#include "data/vocab.h"

namespace rnnb {

struct DataOptions {
  std::string path;                // "" = find_dataset's lookup
  std::string cache_dir = ".cache";  // "" = no cache
  int min_freq = 5;
  int max_vocab = 0;               // 0 = no limit; counts <pad> and <unk>
  uint64_t seed = 1;               // train/validation split and the limit subsets
  float val_fraction = 0.2f;       // of the (limited) training reviews
  int max_len = 0;                 // 0 = no limit
  bool truncate_pre = false;       // keep the last max_len tokens instead of the first
  int train_limit = 0;             // 0 = all; else a seeded random subset of that many
  int test_limit = 0;              // likewise for the test reviews
  bool operator==(const DataOptions&) const = default;
};

struct Dataset {
  Vocab vocab;
  TokenizedSplit train, validation, test;
  std::string source;  // absolute path of the data read (or cached)
  bool from_cache = false;
};

// Loads the dataset. The official training reviews are shuffled with Rng(seed) (after
// taking the train_limit subset); the first round(val_fraction * N) become validation, the
// rest training; each split keeps the reviews in path order. The vocabulary is counted on
// the training part only. Every review has at least one token (see numericalize).
// `log` (may be null) receives one line per phase, and a warning when a cache is corrupt.
Dataset load_dataset(const DataOptions& options, std::ostream* log);

// Cuts every review longer than max_len to its first (or, keep_last, its last) max_len
// tokens. max_len <= 0 leaves the set as it is.
void truncate_reviews(TokenizedSplit& set, int max_len, bool keep_last);

// ---- Summary for `rnnbench data` ------------------------------------------------------

struct SplitReport {
  std::string name;
  int64_t reviews = 0, positive = 0, negative = 0;
  int64_t tokens = 0, unk_tokens = 0;
  int min_length = 0, p50 = 0, p90 = 0, p99 = 0, max_length = 0;
  double mean_length = 0.0;
};

struct DataReport {
  std::string source;
  bool from_cache = false;
  int32_t vocab_size = 0;
  uint64_t vocab_fingerprint = 0;
  std::vector<SplitReport> splits;  // train, validation, test
};

DataReport make_data_report(const Dataset& dataset);
void print_data_report(const Dataset& dataset, std::ostream& out);

}  // namespace rnnb

// Reading the labeled IMDB reviews (Maas et al. 2011) from wherever they are: the official
// aclImdb_v1.tar.gz, the labeled-only copy, an uncompressed tar, or an extracted aclImdb/
// folder (or its parent). Archives are streamed, never extracted. Only files matching
// */{train,test}/{pos,neg}/*.txt count; train/unsup, *.feat, urls_*.txt and the rest are
// skipped. Each split comes back sorted by its path inside the split ("neg/0_3.txt", ...),
// so a tar and the folder it was made from give identical lists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnb {

struct LabeledReview {
  std::string text;
  uint8_t label = 0;  // 1 = positive, 0 = negative
};

struct ImdbReviews {
  std::vector<LabeledReview> train, test;
  std::string source;  // the path read
};

// Reads every labeled review under `path`. Throws Error when the path is missing, is not
// an archive or aclImdb folder, or yields no reviews, or a split lacks one of the labels.
ImdbReviews read_imdb(const std::string& path);

// Where the dataset is. In order: `explicit_path` (a --data option; must exist); the
// RNNB_DATA environment variable (must exist when set); then the first that exists of
// datasets/aclImdb_v1.tar.gz, datasets/aclImdb, ../shared/datasets/aclImdb_v1_labeled.tar.gz
// and ../../shared/datasets/aclImdb_v1_labeled.tar.gz relative to the working directory;
// then the same names relative to the executable's directory and each of its parents.
// Throws Error pointing at datasets/fetch_imdb.sh and --data when nothing is found.
std::string find_dataset(const std::string& explicit_path);

}  // namespace rnnb

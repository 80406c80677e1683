// Batches: which reviews go together, in what order, and how the RNN sees them.
// Every batch is sorted by decreasing length (cuDNN's packed layout requires it); the
// permutation is the `reviews` list itself, so results map back to review indices.
// Packed batches run each review for its own length; padded batches run every review to
// the batch's longest, with pad tokens before (pre) or after (post) the text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenized_split.h"
#include "data/padding.h"
#include "util/name_table.h"
#include "util/rng.h"

namespace rnnb {

enum class BatchOrder { Random, Bucket, Sequential };

inline constexpr auto kBatchOrderNames = make_name_table<BatchOrder>("--batching", {
    {BatchOrder::Random, "random", "a fresh shuffle"},
    {BatchOrder::Bucket, "bucket", "similar lengths together"},
    {BatchOrder::Sequential, "sequential", "index order, as evaluation uses"},
});
constexpr const auto& names_of(BatchOrder) { return kBatchOrderNames; }

struct Batch {
  std::vector<int32_t> reviews;  // indices into the TokenizedSplit, longest first
  std::vector<int32_t> lengths;  // real tokens of each, >= 1, non-increasing
  int steps = 0;                 // time steps the RNN runs: the longest length
  Padding padding = Padding::Packed;

  int size() const { return static_cast<int>(reviews.size()); }
  int64_t real_tokens() const;
  int64_t computed_tokens() const;  // real tokens when packed, size * steps when padded
  // Active sequences at each time step (all of them for every step when padded).
  std::vector<int> batch_sizes() const;
};

// Row where step t starts in the time-major layout, for t = 0..steps (the last entry is the
// row count): the prefix sums of batch_sizes. Both backends and the kernels' tests use it.
std::vector<int64_t> step_row_offsets(const std::vector<int>& batch_sizes);

// Splits the reviews of `set` into batches of at most batch_size. Random: a fresh shuffle;
// Bucket: shuffled, then sorted by length inside windows of 50 batches, cut into batches,
// and the batch order shuffled (similar lengths together, still random); Sequential: in
// index order (evaluation).
std::vector<Batch> make_batches(const TokenizedSplit& set, int batch_size, BatchOrder order,
                                Padding padding, Rng& rng);

// The token ids the RNN reads, time-major in the packed layout: for each step t, the
// first batch_sizes()[t] sequences. Padded batches place kPadId before or after the text.
void assemble_tokens(const TokenizedSplit& set, const Batch& batch, std::vector<int32_t>& tokens);

}  // namespace rnnb

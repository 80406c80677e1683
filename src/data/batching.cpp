// Batch formation (random, length-bucketed, sequential) and the packed token layout.
#include "data/batching.h"

#include <algorithm>
#include <numeric>

#include "util/error.h"

namespace rnnb {

int64_t Batch::real_tokens() const {
  return std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
}

int64_t Batch::computed_tokens() const {
  return padding == Padding::Packed ? real_tokens() : static_cast<int64_t>(size()) * steps;
}

std::vector<int> Batch::batch_sizes() const {
  std::vector<int> sizes(steps, 0);
  if (padding != Padding::Packed) {
    std::fill(sizes.begin(), sizes.end(), size());
    return sizes;
  }
  // lengths are non-increasing: sequence b is active for t < lengths[b].
  for (int b = 0; b < size(); ++b)
    for (int t = 0; t < lengths[b]; ++t) ++sizes[t];
  return sizes;
}

std::vector<int64_t> step_row_offsets(const std::vector<int>& batch_sizes) {
  std::vector<int64_t> offsets(batch_sizes.size() + 1, 0);
  for (size_t t = 0; t < batch_sizes.size(); ++t) offsets[t + 1] = offsets[t] + batch_sizes[t];
  return offsets;
}

namespace {

Batch make_batch(const TokenizedSplit& set, std::vector<int32_t> reviews, Padding padding) {
  Batch batch;
  batch.padding = padding;
  auto length_of = [&](int32_t i) { return std::max(1, set.length(static_cast<size_t>(i))); };
  // Longest first; ties by index so the order is fully determined.
  std::sort(reviews.begin(), reviews.end(), [&](int32_t a, int32_t b) {
    int la = length_of(a), lb = length_of(b);
    return la != lb ? la > lb : a < b;
  });
  batch.reviews = std::move(reviews);
  batch.lengths.reserve(batch.reviews.size());
  for (int32_t i : batch.reviews) batch.lengths.push_back(length_of(i));
  batch.steps = batch.lengths.empty() ? 0 : batch.lengths.front();
  return batch;
}

std::vector<Batch> cut(const TokenizedSplit& set, const std::vector<int32_t>& order, int batch_size,
                       Padding padding) {
  std::vector<Batch> batches;
  for (size_t start = 0; start < order.size(); start += batch_size) {
    size_t end = std::min(order.size(), start + static_cast<size_t>(batch_size));
    batches.push_back(make_batch(set, {order.begin() + start, order.begin() + end}, padding));
  }
  return batches;
}

}  // namespace

std::vector<Batch> make_batches(const TokenizedSplit& set, int batch_size, BatchOrder order,
                                Padding padding, Rng& rng) {
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1");
  std::vector<int32_t> indices(set.size());
  std::iota(indices.begin(), indices.end(), 0);
  if (order == BatchOrder::Sequential) return cut(set, indices, batch_size, padding);

  rng.shuffle(indices);
  if (order == BatchOrder::Random) return cut(set, indices, batch_size, padding);

  // Bucket: sort by length inside windows of 50 batches, so batches hold similar lengths
  // while which reviews meet stays random; then shuffle the batch order.
  const size_t window = static_cast<size_t>(batch_size) * 50;
  for (size_t start = 0; start < indices.size(); start += window) {
    auto first = indices.begin() + start;
    auto last = indices.begin() + std::min(indices.size(), start + window);
    std::stable_sort(first, last, [&](int32_t a, int32_t b) {
      return set.length(static_cast<size_t>(a)) > set.length(static_cast<size_t>(b));
    });
  }
  std::vector<Batch> batches = cut(set, indices, batch_size, padding);
  rng.shuffle(batches);
  return batches;
}

void assemble_tokens(const TokenizedSplit& set, const Batch& batch, std::vector<int32_t>& tokens) {
  tokens.clear();
  tokens.reserve(static_cast<size_t>(batch.computed_tokens()));
  for (int t = 0; t < batch.steps; ++t) {
    for (int b = 0; b < batch.size(); ++b) {
      const int length = batch.lengths[b];
      const size_t review = static_cast<size_t>(batch.reviews[b]);
      const int32_t* ids = set.review(review);
      const bool empty = set.length(review) == 0;  // an empty review reads as one <unk>
      auto token_at = [&](int position) { return empty ? kUnkId : ids[position]; };
      switch (batch.padding) {
        case Padding::Packed:
          if (t < length) tokens.push_back(token_at(t));
          break;
        case Padding::Post:
          tokens.push_back(t < length ? token_at(t) : kPadId);
          break;
        case Padding::Pre: {
          const int pad = batch.steps - length;
          tokens.push_back(t < pad ? kPadId : token_at(t - pad));
          break;
        }
      }
    }
  }
}

}  // namespace rnnb

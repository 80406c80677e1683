// A numericalized split: every review's token ids end to end, with offsets (CSR), and
// its label (1 = positive, 0 = negative). The one form both backends read data in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rnnb {

struct TokenizedSplit {
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets{0};  // size() + 1 entries
  std::vector<uint8_t> labels;

  size_t size() const { return labels.size(); }
  int length(size_t i) const { return static_cast<int>(offsets[i + 1] - offsets[i]); }
  const int32_t* review(size_t i) const { return tokens.data() + offsets[i]; }

  void add(const int32_t* ids, size_t count, uint8_t label) {
    tokens.insert(tokens.end(), ids, ids + count);
    offsets.push_back(static_cast<int64_t>(tokens.size()));
    labels.push_back(label);
  }
};

// Reserved token ids.
inline constexpr int32_t kPadId = 0;
inline constexpr int32_t kUnkId = 1;

}  // namespace rnnb

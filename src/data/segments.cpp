// Chopping reviews into labelled segments (see segments.h).
#include "data/segments.h"

#include "util/error.h"

namespace rnnb {

TokenizedSplit chop_reviews(const TokenizedSplit& set, int most) {
  RNNB_ASSERT(most >= 1);
  TokenizedSplit out;
  out.tokens.reserve(set.tokens.size());
  for (size_t i = 0; i < set.size(); ++i) {
    const int length = set.length(i);
    if (length == 0) continue;
    const int pieces = (length + most - 1) / most;
    const int base = length / pieces, longer = length % pieces;
    const int32_t* at = set.review(i);
    for (int p = 0; p < pieces; ++p) {
      const int count = base + (p < longer ? 1 : 0);
      out.add(at, static_cast<size_t>(count), set.labels[i]);
      at += count;
    }
  }
  return out;
}

}  // namespace rnnb

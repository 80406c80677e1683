// The lengths of the 25,000 IMDB training reviews under the project's tokenizer, as a
// histogram, so the layer benchmarks can draw realistic batches without the dataset.
// Regenerate with: build/export_dataset --length-histogram bench/imdb_lengths.inc
#pragma once

namespace rnnb::bench {

struct LengthCount {
  int length;
  int count;
};

inline constexpr LengthCount kImdbLengths[] = {
#include "imdb_lengths.inc"
};

}  // namespace rnnb::bench

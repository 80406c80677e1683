// Chopped training data: each review cut into segments of at most N tokens, every segment
// labelled with its review's label. Training on short segments and testing on whole
// reviews is Johnson & Zhang's (2016) recipe; it also gives short sequences, so a batch
// of them runs far fewer recurrent steps than one of whole reviews.
#pragma once

#include "data/tokenized_split.h"

namespace rnnb {

// A review of L tokens becomes ceil(L / most) consecutive segments whose lengths differ
// by at most one (the first ones take the remainder), so none is a stub of a few tokens:
// every segment of a review longer than `most` has at least most / 2 tokens. Reviews keep
// their order, and their segments follow one another. Empty reviews give no segment (the
// tokenizer gives none: an empty review is read as one <unk>).
TokenizedSplit chop_reviews(const TokenizedSplit& set, int most);

}  // namespace rnnb

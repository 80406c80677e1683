// How a batch's reviews of different lengths reach the recurrent stack: packed (each runs
// its own length) or padded to the batch's longest, with pad tokens before or after the
// text. A property of the model's configuration: a model trained padded sees the same
// padding when it is evaluated or queried.
#pragma once

#include "util/name_table.h"

namespace rnnb {

enum class Padding { Packed, Pre, Post };

inline constexpr auto kPaddingNames = make_name_table<Padding>("--padding", {
    {Padding::Packed, "packed", "each review its own length"},
    {Padding::Pre, "pre", "pad tokens before the text, to the batch's longest"},
    {Padding::Post, "post", "pad tokens after the text"},
    {Padding::Packed, "none", "", true},
});
constexpr const auto& names_of(Padding) { return kPaddingNames; }

}  // namespace rnnb

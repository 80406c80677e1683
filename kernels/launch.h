// Launch geometry shared by the kernels: grid-stride loops over a capped grid, so any
// element count works with one launch and a fixed, bounded number of blocks.
#pragma once

#include <algorithm>
#include <cstdint>

namespace rnnb::cuda {

inline constexpr int kBlockSize = 256;
inline constexpr int64_t kMaxGridBlocks = 4096;

// Blocks for a grid-stride loop over `count` items, at least 1 so a launch is always valid.
inline unsigned grid_for(int64_t count, int block = kBlockSize) {
  const int64_t blocks = (count + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxGridBlocks));
}

}  // namespace rnnb::cuda

// A scoped NVTX range, so Nsight Systems shows each phase of a step by name.
#pragma once

#include <nvtx3/nvToolsExt.h>

namespace rnnb::cuda {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace rnnb::cuda

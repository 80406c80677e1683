// The cuDNN backend's entry points in a build without CUDA: a clear error instead.
#include "train/backend.h"
#include "util/error.h"

namespace rnnb {

bool cuda_backend_built() { return false; }

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig&, const OptimConfig&,
                                           const BackendOptions&, uint64_t,
                                           const BackendHooks&) {
  fail("--device cuda: this build has no cuDNN backend (CUDA toolkit or cuDNN was not found "
       "at configure time); rebuild on a machine with both, or use --device cpu");
}

}  // namespace rnnb

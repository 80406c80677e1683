// The decision of cublas_workspace.h.
#include "util/cublas_workspace.h"

namespace rnnb {

CublasWorkspaceDecision decide_cublas_workspace(bool deterministic, const char* current) {
  CublasWorkspaceDecision decision;
  if (!deterministic) return decision;
  if (current == nullptr || current[0] == '\0') {
    decision.set_to = ":4096:8";
    return decision;
  }
  const std::string value = current;
  if (value == ":4096:8" || value == ":16:8") return decision;
  decision.error = std::string("--deterministic needs ") + kCublasWorkspaceVariable +
                   " unset, :4096:8 or :16:8 (cuBLAS is reproducible only then), but it is '" + value +
                   "': unset it or drop --deterministic";
  return decision;
}

}  // namespace rnnb

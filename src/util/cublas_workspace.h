// What --deterministic asks of CUBLAS_WORKSPACE_CONFIG. cuBLAS is reproducible run to run
// only with a fixed workspace configuration (":4096:8" or ":16:8", NVIDIA's cuBLAS docs,
// "Results reproducibility"), read from the environment when a handle is created. A pure
// function, so it is tested without a GPU; the cuDNN backend applies its answer.
#pragma once

#include <string>

namespace rnnb {

inline constexpr const char* kCublasWorkspaceVariable = "CUBLAS_WORKSPACE_CONFIG";

struct CublasWorkspaceDecision {
  std::string set_to;  // non-empty: set the variable to this before any cuBLAS handle exists
  std::string error;   // non-empty: refuse with this one-line message
};

// `current` is the variable's value, or null when it is unset. Without --deterministic,
// nothing is asked. Unset: set ":4096:8". ":4096:8" or ":16:8": leave it. Anything else:
// refuse, naming the value and the ones that work.
CublasWorkspaceDecision decide_cublas_workspace(bool deterministic, const char* current);

}  // namespace rnnb

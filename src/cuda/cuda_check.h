// Checked CUDA, cuDNN and cuBLAS calls: a failure throws rnnb::Error naming file:line, the
// call and the library's own message, so tests report it and the CLI prints one line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "util/error.h"

namespace rnnb::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace rnnb::cuda

#define CUDA_CHECK(call)                                                           \
  do {                                                                             \
    cudaError_t rnnb_status_ = (call);                                             \
    if (rnnb_status_ != cudaSuccess)                                               \
      ::rnnb::cuda::throw_cuda_error(rnnb_status_, #call, __FILE__, __LINE__);     \
  } while (0)

#define CUDNN_CHECK(call)                                                          \
  do {                                                                             \
    cudnnStatus_t rnnb_status_ = (call);                                           \
    if (rnnb_status_ != CUDNN_STATUS_SUCCESS)                                      \
      ::rnnb::cuda::throw_cudnn_error(rnnb_status_, #call, __FILE__, __LINE__);    \
  } while (0)

#define CUBLAS_CHECK(call)                                                         \
  do {                                                                             \
    cublasStatus_t rnnb_status_ = (call);                                          \
    if (rnnb_status_ != CUBLAS_STATUS_SUCCESS)                                     \
      ::rnnb::cuda::throw_cublas_error(rnnb_status_, #call, __FILE__, __LINE__);   \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

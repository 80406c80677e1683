// Error messages for the checked-call macros.
#include "cuda/cuda_check.h"

namespace rnnb::cuda {
namespace {
std::string where(const char* call, const char* file, int line) {
  return std::string(file) + ":" + std::to_string(line) + ": " + call + ": ";
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  std::string message = where(call, file, line) + cudaGetErrorName(status) + " (" +
                        cudaGetErrorString(status) + ")";
  if (status == cudaErrorMemoryAllocation)
    message += "; lower --batch-size, --max-len or --hidden";
  throw Error(message);
}

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof detail);
  std::string message = where(call, file, line) + cudnnGetErrorString(status);
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  throw Error(message);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(where(call, file, line) + cublasGetStatusName(status) + " (" +
              cublasGetStatusString(status) + ")");
}

}  // namespace rnnb::cuda

#include "cuda/device_buffer.h"

namespace rnnb::cuda {

bool gpu_available(std::string* why) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    if (why) *why = status != cudaSuccess ? std::string("CUDA: ") + cudaGetErrorString(status) : "CUDA sees no device";
    return false;
  }
  return true;
}

}  // namespace rnnb::cuda

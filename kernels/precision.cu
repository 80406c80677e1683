// fp32 <-> fp16 element-wise conversion with a grid-stride loop.
#include "cuda/cuda_check.h"
#include "kernels/precision.h"
#include "kernels/launch.h"

namespace rnnb::cuda {
namespace {

template <typename In, typename Out>
__device__ Out convert_one(In x);
template <>
__device__ __half convert_one<float, __half>(float x) { return __float2half_rn(x); }
template <>
__device__ float convert_one<__half, float>(__half x) { return __half2float(x); }

template <typename In, typename Out>
__global__ void convert_kernel(const In* in, Out* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = convert_one<In, Out>(in[i]);
}

template <typename In, typename Out>
void launch_convert(const In* in, Out* out, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  convert_kernel<In, Out><<<grid_for(static_cast<int64_t>(n)), kBlockSize, 0, stream>>>(in, out, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void convert(const float* in, __half* out, size_t n, cudaStream_t stream) { launch_convert(in, out, n, stream); }
void convert(const __half* in, float* out, size_t n, cudaStream_t stream) { launch_convert(in, out, n, stream); }

}  // namespace rnnb::cuda

// Whether a GPU is usable for the benchmarks, and the GPU's description for the result
// context: name, SM count, memory, driver, CUDA runtime, cuDNN and cuBLAS versions.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "bench_common.h"

#ifdef RNNB_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <library_types.h>

#include "cuda/device_buffer.h"
#endif

namespace rnnb::bench {

#ifdef RNNB_WITH_CUDA
inline std::string dotted_version(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}
#endif

// True when a GPU is usable, after adding its description to the context; otherwise `why`
// says what is missing.
inline bool add_gpu_context(std::string* why) {
#ifndef RNNB_WITH_CUDA
  *why = "this build has no CUDA backend (CUDA toolkit or cuDNN not found when configuring)";
  return false;
#else
  if (!cuda::gpu_available(why)) {
    *why = "no GPU found (" + *why + ")";
    return false;
  }
  int device = 0;
  cudaGetDevice(&device);
  cudaDeviceProp props{};
  if (cudaGetDeviceProperties(&props, device) != cudaSuccess) {
    *why = "cudaGetDeviceProperties failed";
    return false;
  }
  benchmark::AddCustomContext("gpu", props.name);
  benchmark::AddCustomContext("gpu_sm_count", std::to_string(props.multiProcessorCount));
  benchmark::AddCustomContext("gpu_compute_capability",
                              std::to_string(props.major) + "." + std::to_string(props.minor));
  benchmark::AddCustomContext("gpu_memory_mib", std::to_string(props.totalGlobalMem >> 20));
  std::ifstream driver_file("/proc/driver/nvidia/version");
  std::string driver;
  std::getline(driver_file, driver);
  benchmark::AddCustomContext("gpu_driver", driver.empty() ? "unknown" : driver);
  int version = 0;
  cudaDriverGetVersion(&version);
  benchmark::AddCustomContext("cuda_driver_api", dotted_version(version / 1000, (version % 1000) / 10, 0));
  cudaRuntimeGetVersion(&version);
  benchmark::AddCustomContext("cuda_runtime", dotted_version(version / 1000, (version % 1000) / 10, 0));
  const size_t cudnn = cudnnGetVersion();
  benchmark::AddCustomContext("cudnn", dotted_version(static_cast<int>(cudnn / 10000),
                                                      static_cast<int>(cudnn % 10000 / 100),
                                                      static_cast<int>(cudnn % 100)));
  benchmark::AddCustomContext("cudnn_headers", std::to_string(CUDNN_VERSION));
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  benchmark::AddCustomContext("cublas", dotted_version(major, minor, patch));
  return true;
#endif
}

// The main of a GPU benchmark executable: takes the run mode out of argv, writes the
// context, and runs what `register_benchmarks` adds when a GPU is usable; otherwise says
// why and runs nothing (exit 0, so CI's quick runs pass on machines without a GPU).
inline int gpu_bench_main(int argc, char** argv, const char* name,
                          const std::function<void(const Mode&)>& register_benchmarks) {
  const Mode mode = parse_mode(argc, argv);
  add_common_context(mode);
  std::string why;
  const bool gpu = add_gpu_context(&why);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (gpu) {
    register_benchmarks(mode);
    benchmark::RunSpecifiedBenchmarks();
  } else {
    std::printf("%s: skipped, no GPU benchmarks registered: %s\n", name, why.c_str());
  }
  benchmark::Shutdown();
  return 0;
}

}  // namespace rnnb::bench

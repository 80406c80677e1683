// Shared pieces of the GPU tests: a fixture that skips (with the reason) when no GPU is
// usable, random inputs, device transfers, NaN-poisoned outputs so a kernel that leaves an
// element unwritten fails, and the relative error used to compare against the CPU reference.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cuda/device_buffer.h"
#include "data/tokenized_split.h"
#include "support/test_data.h"
#include "train/backend.h"
#include "util/rng.h"

namespace rnnb::test {

// Tests derive from this: SetUp skips the test when there is no usable CUDA device (fails
// it instead under RNNB_REQUIRE_GPU=1, as on the GPU machine, where a skip would hide a
// driver that cannot run this build), and otherwise gives the test its own non-blocking
// stream, the one every transfer and kernel of the test runs on (so none can race another).
class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda::gpu_available(&why)) {
      const char* require = std::getenv("RNNB_REQUIRE_GPU");
      if (require && std::string(require) == "1") FAIL() << "RNNB_REQUIRE_GPU=1 but no GPU found (" << why << ")";
      GTEST_SKIP() << "no GPU found (" << why << ")";
    }
    stream_ = std::make_unique<cuda::Stream>();
  }
  cudaStream_t stream() const { return stream_->get(); }

 private:
  std::unique_ptr<cuda::Stream> stream_;
};

// ||gpu - cpu|| / ||cpu|| in double (||gpu - cpu|| when cpu is all zeros); infinity when the
// sizes differ or gpu holds a NaN or infinity where cpu is finite.
template <typename A, typename B>
double relative_error(const std::vector<A>& gpu, const std::vector<B>& cpu) {
  if (gpu.size() != cpu.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double g = static_cast<double>(gpu[i]);
    const double c = static_cast<double>(cpu[i]);
    if (!std::isfinite(g) && std::isfinite(c)) return std::numeric_limits<double>::infinity();
    diff += (g - c) * (g - c);
    ref += c * c;
  }
  return ref > 0.0 ? std::sqrt(diff) / std::sqrt(ref) : std::sqrt(diff);
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (auto& v : values) v = rng.uniform(lo, hi);
  return values;
}

inline std::vector<int32_t> random_tokens(size_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
  return tokens;
}

// Pageable host memory is staged when the copy is queued, so `host` may go right after.
template <typename T>
cuda::DeviceBuffer<T> to_device(const std::vector<T>& host, cudaStream_t stream) {
  cuda::DeviceBuffer<T> buffer;
  buffer.upload(host, stream);
  return buffer;
}

// A device buffer of `count` elements with every byte 0xFF: NaN for float, double and half,
// -1 for signed integers, the maximum for unsigned ones.
template <typename T>
cuda::DeviceBuffer<T> poisoned(size_t count, cudaStream_t stream) {
  cuda::DeviceBuffer<T> buffer(count);
  if (count) CUDA_CHECK(cudaMemsetAsync(buffer.data(), 0xFF, count * sizeof(T), stream));
  return buffer;
}

// After everything queued on `stream` (a wait).
template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer<T>& buffer, cudaStream_t stream) {
  return buffer.download(stream);
}

// Bitwise equality of two float vectors (NaNs with equal bits compare equal).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// A CPU and a cuDNN backend from the same initial state, both with `set` as the training
// split; `gpu_options` picks the cuDNN backend's math or algorithm.
struct BackendTwins {
  std::unique_ptr<Backend> cpu, gpu;
};

inline BackendTwins twin_backends(const ModelConfig& model, const OptimConfig& optim, const TokenizedSplit& set,
                                  uint64_t seed, const BackendOptions& gpu_options = {}) {
  BackendTwins twins{make_cpu_backend(model, optim, BackendOptions{}, seed),
                     make_cuda_backend(model, optim, gpu_options, seed)};
  const TrainState start = initial_state(model, seed);
  twins.cpu->set_state(start);
  twins.gpu->set_state(start);
  twins.cpu->attach(Slot::Train, set);
  twins.gpu->attach(Slot::Train, set);
  return twins;
}

}  // namespace rnnb::test

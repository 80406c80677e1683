// Throughput of the cuDNN recurrent stack (CudnnRnn) on the layer cases of layer_cases.h:
// cells x packed/padded x algorithm x math x batch x hidden x layers x directions x review
// length distribution, inference forward and training forward + backward (data and
// weights). Timed with CUDA events around the batches of one iteration (manual time),
// after a warm-up pass that also grows the workspace and reserve space; repetitions come
// from --benchmark_repetitions. Counters: real tokens/s, sequences/s, useful GFLOP/s,
// padding overhead, workspace + reserve bytes.
//
// Without a usable GPU (or in a build without CUDA) it prints why and runs nothing.
//
//   bench_rnn_layer [--quick] [--full] [--data=PATH] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gpu_context.h"
#include "layer_cases.h"

#ifdef RNNB_WITH_CUDA
#include <cuda_fp16.h>

#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "cuda/precision.h"
#include "util/error.h"
#endif

namespace rnnb::bench {
namespace {

#ifdef RNNB_WITH_CUDA
using cuda::DeviceBuffer;

// Device memory of `count` elements of the stack's data type, filled with values uniform
// in [-scale, scale] (a random block tiled, converted to fp16 for the half-precision math).
class DeviceArray {
 public:
  DeviceArray(size_t count, bool half, float scale, uint64_t seed, cudaStream_t stream)
      : bytes_(std::max<size_t>(count, 1) * (half ? 2 : 4)) {
    storage_.resize(bytes_);
    constexpr size_t kBlock = 1 << 20;
    const size_t block = std::min(std::max<size_t>(count, 1), kBlock);
    std::vector<float> host(block);
    fill_random(host.data(), block, scale, seed);
    DeviceBuffer<float> staged;
    staged.upload(host, stream);
    const size_t element = half ? 2 : 4;
    unsigned char* first = storage_.data();
    if (half)
      cuda::convert(staged.data(), reinterpret_cast<__half*>(first), block, stream);
    else
      CUDA_CHECK(cudaMemcpyAsync(first, staged.data(), block * 4, cudaMemcpyDeviceToDevice, stream));
    for (size_t done = block; done < count; done += block)
      CUDA_CHECK(cudaMemcpyAsync(first + done * element, first, std::min(block, count - done) * element,
                                 cudaMemcpyDeviceToDevice, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  void* data() { return storage_.data(); }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_;
  DeviceBuffer<unsigned char> storage_;
};

void run_gpu_layer(benchmark::State& state, const LayerCase& c, const LengthHistogram& histogram) {
  try {
    const LayerWorkload work(c, histogram);
    const RnnShape shape = c.shape();
    cuda::Stream stream;
    cuda::CudnnHandle handle = cuda::make_cudnn_handle();
    CUDNN_CHECK(cudnnSetStream(handle.get(), stream.get()));
    cuda::CudnnRnn rnn(handle.get(), shape,
                       cuda::RnnOptions{cuda::parse_rnn_algo(c.algo), cuda::parse_rnn_math(c.math), 0.0f, 1});
    const bool half = rnn.element_bytes() == 2;
    const size_t rows = static_cast<size_t>(work.max_rows);
    const size_t states = static_cast<size_t>(shape.layers) * shape.dirs * c.batch * shape.hidden;
    const bool lstm = c.cell == Cell::Lstm;
    cudaStream_t s = stream.get();
    DeviceArray weights(rnn.weight_space_elements(), half, 1.0f / std::sqrt(static_cast<float>(shape.hidden)), 1, s);
    DeviceArray dweights(rnn.weight_space_elements(), half, 0.0f, 2, s);
    DeviceArray x(rows * shape.input, half, 1.0f, 3, s), dx(rows * shape.input, half, 0.0f, 4, s);
    DeviceArray y(rows * shape.output(), half, 0.0f, 5, s), dy(rows * shape.output(), half, 1e-3f, 6, s);
    DeviceArray hy(states, half, 0.0f, 7, s), cy(states, half, 0.0f, 8, s);
    DeviceArray dhy(states, half, 1e-3f, 9, s), dcy(states, half, 1e-3f, 10, s);

    size_t temp_bytes = 0;
    for (const std::vector<int>& lengths : work.lengths)
      temp_bytes = std::max(temp_bytes, rnn.temp_space_bytes(lengths, c.padded, c.backward));

    auto run_once = [&] {
      for (const std::vector<int>& lengths : work.lengths) {
        rnn.set_batch(lengths, c.padded);
        rnn.forward(weights.data(), x.data(), y.data(), hy.data(), lstm ? cy.data() : nullptr, c.backward);
        if (c.backward) {
          rnn.backward_data(weights.data(), y.data(), dy.data(), dhy.data(), lstm ? dcy.data() : nullptr,
                            dx.data());
          rnn.backward_weights(x.data(), y.data(), dweights.data());
        }
      }
    };
    // Warm-up: grows the workspace and reserve space, builds dynamic plans, loads kernels.
    run_once();
    run_once();
    stream.synchronize();

    cuda::Event start, stop;
    for (auto _ : state) {
      start.record(s);
      run_once();
      stop.record(s);
      stop.synchronize();
      state.SetIterationTime(stop.elapsed_since(start) * 1e-3);
    }
    set_throughput_counters(state, work.sequences, work.real, work.computed, work.flops);
    state.counters["temp_bytes"] = static_cast<double>(temp_bytes);
  } catch (const Error& e) {
    // Refused configurations (a persistent algorithm that does not support the shape, out
    // of memory at the largest sizes) are reported, not fatal.
    state.SkipWithError(e.what());
  }
}
#endif

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb::bench;
  const Mode mode = parse_mode(argc, argv);
  add_common_context(mode);
  std::string why;
  const bool gpu = add_gpu_context(&why);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (!gpu) {
    std::printf("bench_rnn_layer: skipped, no GPU benchmarks registered: %s\n", why.c_str());
    benchmark::Shutdown();
    return 0;
  }
#ifdef RNNB_WITH_CUDA
  static const LengthHistogram lengths = layer_lengths(mode);
  add_lengths_context(lengths);
  for (const LayerCase& c : layer_sweep("gpu_layer", /*gpu=*/true, mode)) {
    auto* b = benchmark::RegisterBenchmark(c.name("gpu_layer", true).c_str(),
                                           [c](benchmark::State& state) { run_gpu_layer(state, c, lengths); });
    b->Unit(benchmark::kMillisecond)->UseManualTime();
    if (mode.quick) b->Iterations(3);
  }
  benchmark::RunSpecifiedBenchmarks();
#endif
  benchmark::Shutdown();
  return 0;
}

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
#include <memory>
#include <string>
#include <vector>

#include "gpu_context.h"
#include "layer_cases.h"

#ifdef RNNB_WITH_CUDA
#include <cuda_fp16.h>

#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "kernels/precision.h"
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

// Everything one case needs on the device, built once and kept while Google Benchmark
// calls the case again (iteration-count probing, repetitions); the next case frees it.
struct GpuLayerRun {
  GpuLayerRun(const LayerCase& c, const LengthHistogram& histogram)
      : work(c, histogram),
        shape(c.shape()),
        handle(cuda::make_cudnn_handle(stream.get())),
        rnn(handle.get(), shape,
            cuda::RnnOptions{c.algo, c.math, 0.0f, 1}),
        half(rnn.element_bytes() == 2),
        rows(static_cast<size_t>(work.max_rows)),
        states(static_cast<size_t>(shape.layers) * shape.dirs * c.batch * shape.hidden),
        weights(rnn.weight_space_elements(), half, 1.0f / std::sqrt(static_cast<float>(shape.hidden)), 1, stream.get()),
        dweights(rnn.weight_space_elements(), half, 0.0f, 2, stream.get()),
        x(rows * shape.input, half, 1.0f, 3, stream.get()),
        dx(rows * shape.input, half, 0.0f, 4, stream.get()),
        y(rows * shape.output(), half, 0.0f, 5, stream.get()),
        dy(rows * shape.output(), half, 1e-3f, 6, stream.get()),
        hy(states, half, 0.0f, 7, stream.get()),
        cy(states, half, 0.0f, 8, stream.get()),
        dhy(states, half, 1e-3f, 9, stream.get()),
        dcy(states, half, 1e-3f, 10, stream.get()),
        padded(c.padded),
        backward(c.backward),
        lstm(c.cell == Cell::Lstm) {
    for (const std::vector<int>& lengths : work.lengths)
      temp_bytes = std::max(temp_bytes, rnn.temp_space_bytes(lengths, padded, backward));
    // Warm-up: grows the workspace and reserve space, builds dynamic plans, loads kernels.
    run_once();
    run_once();
    stream.synchronize();
  }

  void run_once() {
    for (const std::vector<int>& lengths : work.lengths) {
      rnn.set_batch(lengths, padded, backward);
      rnn.forward(weights.data(), x.data(), y.data(), hy.data(), lstm ? cy.data() : nullptr, backward);
      if (backward) {
        rnn.backward_data(weights.data(), y.data(), dy.data(), dhy.data(), lstm ? dcy.data() : nullptr, dx.data());
        rnn.backward_weights(x.data(), y.data(), dweights.data());
      }
    }
  }

  LayerWorkload work;
  RnnShape shape;
  cuda::Stream stream;
  cuda::CudnnHandle handle;
  cuda::CudnnRnn rnn;
  bool half;
  size_t rows, states;
  DeviceArray weights, dweights, x, dx, y, dy, hy, cy, dhy, dcy;
  bool padded, backward, lstm;
  size_t temp_bytes = 0;
};

void run_gpu_layer(benchmark::State& state, const LayerCase& c, const LengthHistogram& histogram) {
  static std::unique_ptr<GpuLayerRun> current;
  static std::string current_name;
  const std::string name = c.name("gpu_layer", true);
  try {
    if (!current || current_name != name) {
      current.reset();  // free the previous case's memory before allocating this one's
      current_name.clear();
      current = std::make_unique<GpuLayerRun>(c, histogram);
      current_name = name;
    }
    GpuLayerRun& run = *current;
    cudaStream_t s = run.stream.get();
    cuda::Event start, stop;
    for (auto _ : state) {
      start.record(s);
      run.run_once();
      stop.record(s);
      stop.synchronize();
      state.SetIterationTime(stop.elapsed_since(start) * 1e-3);
    }
    set_throughput_counters(state, run.work.sequences, run.work.real, run.work.computed, run.work.flops);
    state.counters["temp_bytes"] = static_cast<double>(run.temp_bytes);
  } catch (const Error& e) {
    // Refused configurations (a persistent algorithm that does not support the shape, out
    // of memory at the largest sizes) are reported, not fatal.
    current.reset();
    current_name.clear();
    state.SkipWithError(e.what());
  }
}
#endif

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb::bench;
  return gpu_bench_main(argc, argv, "bench_rnn_layer", [](const Mode& mode) {
#ifdef RNNB_WITH_CUDA
    static const LengthHistogram lengths = layer_lengths(mode);
    add_lengths_context(lengths);
    for (const LayerCase& c : layer_sweep("gpu_layer", /*gpu=*/true, mode)) {
      auto* b = benchmark::RegisterBenchmark(c.name("gpu_layer", true).c_str(),
                                             [c](benchmark::State& state) { run_gpu_layer(state, c, lengths); });
      b->Unit(benchmark::kMillisecond)->UseManualTime();
      if (mode.quick) b->Iterations(3);
    }
#endif
  });
}

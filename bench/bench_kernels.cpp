// Each of the project's kernels (kernels/) on the default model's shapes: the rows of a
// bucketed IMDB batch of 64 (about 17,000 tokens), embed 128, hidden 256, and the whole
// parameter vector (about 3.8 M floats) for clipping and Adam. Every kernel here is
// memory-bound, so each reports the bytes it must move per call over its CUDA-event time
// (bytes_per_second) and that rate as a fraction of the device's peak DRAM bandwidth
// (peak_fraction, from the memory clock and bus width), in the style of llm.c's dev/cuda.
// Without a usable GPU (or in a build without CUDA) it prints why and runs nothing.
//
//   bench_kernels [--quick] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <vector>

#include "gpu_context.h"

#ifdef RNNB_WITH_CUDA
#include <cuda_fp16.h>

#include "cuda/device_buffer.h"
#include "kernels/adam.h"
#include "kernels/clip.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/pool.h"
#include "kernels/precision.h"
#include "kernels/relu.h"
#include "kernels/softmax_xent.h"
#include "util/rng.h"
#endif

namespace rnnb::bench {
namespace {

#ifdef RNNB_WITH_CUDA
using cuda::DeviceBuffer;

// Peak DRAM bandwidth in bytes/s: two transfers a clock (DDR) over the bus width.
double peak_bandwidth() {
  int device = 0, clock_khz = 0, bus_bits = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device));
  return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
}

// The shapes: one bucketed batch of the default model, and its parameter count.
struct Shapes {
  int batch = 64, embed = 128, hidden = 256, vocab = 27427, steps = 270;
  int64_t rows = 64 * 269;
  size_t params = 3'830'000;
};

Shapes shapes(const Mode& mode) {
  Shapes s;
  if (mode.quick) {
    s.batch = 4, s.embed = 8, s.hidden = 16, s.vocab = 50, s.steps = 10, s.rows = 37, s.params = 1000;
  }
  return s;
}

template <typename T>
DeviceBuffer<T> random_device(size_t n, uint64_t seed, cudaStream_t stream) {
  Rng rng(seed);
  std::vector<T> host(n);
  for (T& v : host) v = static_cast<T>(rng.uniform(-1.0f, 1.0f));
  DeviceBuffer<T> buffer;
  buffer.upload(host, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return buffer;
}

DeviceBuffer<int32_t> random_ids(size_t n, int below, uint64_t seed, cudaStream_t stream) {
  Rng rng(seed);
  std::vector<int32_t> host(n);
  for (int32_t& v : host) v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(below)));
  DeviceBuffer<int32_t> buffer;
  buffer.upload(host, stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return buffer;
}

// Times `launch` (one kernel call on `stream`) with CUDA events, reporting bytes/s and the
// fraction of peak bandwidth for `bytes` moved per call.
void time_kernel(benchmark::State& state, cuda::Stream& stream, double bytes, const std::function<void()>& launch) {
  static const double peak = peak_bandwidth();
  cuda::Event start, stop;
  launch();  // warm-up
  for (auto _ : state) {
    start.record(stream.get());
    launch();
    stop.record(stream.get());
    stop.synchronize();
    state.SetIterationTime(stop.elapsed_since(start) * 1e-3);
  }
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_per_call"] = bytes;
  state.counters["peak_bytes_per_second"] = peak;
  state.counters["peak_fraction"] =
      benchmark::Counter(bytes / peak, benchmark::Counter::kIsIterationInvariantRate);
}

void register_kernels(const Mode& mode) {
  static const Shapes s = shapes(mode);
  static cuda::Stream stream;
  const cudaStream_t st = stream.get();
  const size_t x_count = static_cast<size_t>(s.rows) * s.embed;
  const size_t y_count = static_cast<size_t>(s.rows) * s.hidden;
  auto add = [&](const std::string& name, std::function<void(benchmark::State&)> body) {
    benchmark::RegisterBenchmark(("kernel/" + name).c_str(), body)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };

  add("embedding_gather", [=](benchmark::State& state) {
    auto table = random_device<float>(static_cast<size_t>(s.vocab) * s.embed, 1, st);
    auto tokens = random_ids(s.rows, s.vocab, 2, st);
    DeviceBuffer<float> out(x_count);
    time_kernel(state, stream, 2.0 * x_count * sizeof(float) + s.rows * sizeof(int32_t),
                [&] { cuda::embedding_gather(table.data(), s.embed, tokens.data(), s.rows, out.data(), st); });
  });
  add("embedding_grad_atomic", [=](benchmark::State& state) {
    auto dout = random_device<float>(x_count, 3, st);
    auto tokens = random_ids(s.rows, s.vocab, 4, st);
    DeviceBuffer<float> dtable(static_cast<size_t>(s.vocab) * s.embed);
    dtable.zero(st);
    // Read dout, read-modify-write the rows it lands on.
    time_kernel(state, stream, 3.0 * x_count * sizeof(float) + s.rows * sizeof(int32_t), [&] {
      cuda::embedding_grad_atomic(dout.data(), s.embed, tokens.data(), s.rows, dtable.data(), st);
    });
  });
  add("embedding_grad_sorted", [=](benchmark::State& state) {
    auto dout = random_device<float>(x_count, 5, st);
    auto tokens = random_ids(s.rows, s.vocab, 6, st);
    DeviceBuffer<float> dtable(static_cast<size_t>(s.vocab) * s.embed);
    dtable.zero(st);
    cuda::EmbeddingGradWorkspace workspace;
    time_kernel(state, stream, 3.0 * x_count * sizeof(float) + s.rows * sizeof(int32_t), [&] {
      cuda::embedding_grad_sorted(dout.data(), s.embed, tokens.data(), s.rows, s.vocab, dtable.data(), workspace, st);
    });
  });
  add("dropout_forward", [=](benchmark::State& state) {
    auto in = random_device<float>(x_count, 7, st);
    DeviceBuffer<float> out(x_count), mask(x_count);
    time_kernel(state, stream, 3.0 * x_count * sizeof(float), [&] {
      cuda::dropout_forward(in.data(), static_cast<int64_t>(x_count), 0.3f, 1, 1, out.data(), mask.data(), st);
    });
  });
  add("relu_forward", [=](benchmark::State& state) {
    auto x = random_device<float>(y_count, 8, st);
    time_kernel(state, stream, 2.0 * y_count * sizeof(float),
                [&] { cuda::relu_forward(x.data(), static_cast<int64_t>(y_count), st); });
  });
  add("convert_fp32_to_fp16", [=](benchmark::State& state) {
    auto in = random_device<float>(y_count, 9, st);
    DeviceBuffer<__half> out(y_count);
    time_kernel(state, stream, y_count * (sizeof(float) + sizeof(__half)),
                [&] { cuda::convert(in.data(), out.data(), y_count, st); });
  });
  add("pool_meanmax", [=](benchmark::State& state) {
    // A padded batch: every sequence runs every step (step t starts at row t * batch).
    const int64_t rows = static_cast<int64_t>(s.steps) * s.batch;
    auto y = random_device<float>(static_cast<size_t>(rows) * s.hidden, 10, st);
    std::vector<int64_t> offsets(s.steps + 1);
    for (int t = 0; t <= s.steps; ++t) offsets[t] = static_cast<int64_t>(t) * s.batch;
    std::vector<int32_t> lengths(s.batch, s.steps);
    DeviceBuffer<int64_t> d_offsets;
    d_offsets.upload(offsets, st);
    DeviceBuffer<int32_t> d_lengths, argmax(static_cast<size_t>(s.batch) * s.hidden);
    d_lengths.upload(lengths, st);
    DeviceBuffer<float> features(static_cast<size_t>(s.batch) * 2 * s.hidden);
    CUDA_CHECK(cudaStreamSynchronize(st));
    time_kernel(state, stream, static_cast<double>(rows) * s.hidden * sizeof(float), [&] {
      cuda::pool_outputs(Pool::MeanMax, y.data(), s.hidden, d_offsets.data(), d_lengths.data(), s.batch, s.steps,
                         Padding::Post, features.data(), argmax.data(), st);
    });
  });
  add("softmax_xent", [=](benchmark::State& state) {
    auto logits = random_device<float>(static_cast<size_t>(s.batch) * 2, 11, st);
    std::vector<uint8_t> labels(s.batch, 1);
    DeviceBuffer<uint8_t> d_labels;
    d_labels.upload(labels, st);
    DeviceBuffer<float> dlogits(static_cast<size_t>(s.batch) * 2);
    DeviceBuffer<double> loss(1);
    DeviceBuffer<unsigned long long> correct(1);
    loss.zero(st);
    correct.zero(st);
    time_kernel(state, stream, s.batch * (4.0 * sizeof(float) + 1.0), [&] {
      cuda::softmax_xent_batch(logits.data(), d_labels.data(), s.batch, 2, dlogits.data(), nullptr, loss.data(),
                               correct.data(), st);
    });
  });
  add("grad_sum_of_squares", [=](benchmark::State& state) {
    auto grad = random_device<float>(s.params, 12, st);
    DeviceBuffer<double> partials(cuda::kSumOfSquaresBlocks), sum(1);
    time_kernel(state, stream, s.params * sizeof(float),
                [&] { cuda::grad_sum_of_squares(grad.data(), s.params, partials.data(), sum.data(), st); });
  });
  add("adam_step", [=](benchmark::State& state) {
    auto params = random_device<float>(s.params, 13, st);
    auto grad = random_device<float>(s.params, 14, st);
    DeviceBuffer<float> m(s.params), v(s.params);
    m.zero(st);
    v.zero(st);
    OptimConfig config;
    int64_t step = 0;
    // Reads params, grad, m, v; writes params, m, v.
    time_kernel(state, stream, 7.0 * s.params * sizeof(float), [&] {
      cuda::adam_step(params.data(), grad.data(), m.data(), v.data(), s.params, config, ++step, nullptr, st);
    });
  });
}
#endif

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb::bench;
  return gpu_bench_main(argc, argv, "bench_kernels", [](const Mode& mode) {
#ifdef RNNB_WITH_CUDA
    register_kernels(mode);
#endif
  });
}

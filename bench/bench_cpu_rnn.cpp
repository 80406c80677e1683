// Throughput of the CPU recurrent stack (CpuRnn, OpenBLAS) on the layer cases of
// layer_cases.h: RNN (tanh, relu), GRU and LSTM, packed and padded, inference forward and
// training forward + backward (data and weights), over batches of real IMDB review lengths.
// Counters: real tokens/s, sequences/s, useful GFLOP/s, padding overhead (computed / real
// tokens). bench_blas_ceiling times raw sgemm on the same shapes for the fraction reached.
//
//   bench_cpu_rnn [--quick] [--full] [--data=PATH] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <cmath>
#include <iostream>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "layer_cases.h"

namespace rnnb::bench {
namespace {

void run_cpu_layer(benchmark::State& state, const LayerCase& c, const LengthHistogram& histogram) {
  const LayerWorkload work(c, histogram);
  const RnnShape shape = c.shape();
  CpuRnn<float> rnn(shape);

  const size_t rows = static_cast<size_t>(work.max_rows);
  const size_t states = static_cast<size_t>(shape.layers) * shape.dirs * c.batch * shape.hidden;
  const bool lstm = c.cell == Cell::Lstm;
  std::vector<float> weights(shape.weight_count()), dweights(shape.weight_count(), 0.0f);
  std::vector<float> x(rows * shape.input), dx(rows * shape.input), y(rows * shape.output()),
      dy(rows * shape.output()), hy(states), cy(states), dhy(states), dcy(states);
  fill_random(weights.data(), weights.size(), 1.0f / std::sqrt(static_cast<float>(shape.hidden)), 1);
  fill_random(x.data(), x.size(), 1.0f, 2);
  fill_random(dy.data(), dy.size(), 1e-3f, 3);
  fill_random(dhy.data(), dhy.size(), 1e-3f, 4);
  fill_random(dcy.data(), dcy.size(), 1e-3f, 5);
  std::vector<std::vector<int>> steps;
  for (const std::vector<int>& lengths : work.lengths) steps.push_back(step_batch_sizes(lengths, c.padded));

  auto run_once = [&] {
    for (const std::vector<int>& batch_sizes : steps) {
      rnn.forward(weights.data(), x.data(), batch_sizes, y.data(), hy.data(), lstm ? cy.data() : nullptr,
                  c.backward, nullptr);
      if (c.backward)
        rnn.backward(weights.data(), dy.data(), dhy.data(), lstm ? dcy.data() : nullptr, dx.data(),
                     dweights.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dweights.data());
  };
  run_once();  // warm-up: grows the stack's buffers to this case's size
  for (auto _ : state) run_once();
  set_throughput_counters(state, work.sequences, work.real, work.computed, work.flops);
}

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb::bench;
  const Mode mode = parse_mode(argc, argv);
  static const LengthHistogram lengths = layer_lengths(mode);
  add_common_context(mode);
  add_lengths_context(lengths);
  for (const LayerCase& c : layer_sweep("cpu_layer", /*gpu=*/false, mode)) {
    auto* b = benchmark::RegisterBenchmark(c.name("cpu_layer", false).c_str(),
                                           [c](benchmark::State& state) { run_cpu_layer(state, c, lengths); });
    b->Unit(benchmark::kMillisecond)->UseRealTime();
    if (mode.quick) b->Iterations(2);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

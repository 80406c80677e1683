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

#include "cpu_layer.h"

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
  return run_benchmarks(argc, argv);
}

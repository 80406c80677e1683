// The CPU layer benchmark body shared by bench_cpu_rnn and bench_blas_ceiling (which runs
// it interleaved with the ceiling, so both see the same machine state): CpuRnn over a
// case's batches, inference forward or training forward + backward, on a thread team of
// every hardware thread, as the CPU backend runs it by default.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "cpu/matmul.h"
#include "cpu/matmul_bf16.h"
#include "cpu/rnn_cpu.h"
#include "cpu/thread_team.h"
#include "layer_cases.h"

namespace rnnb::bench {

inline void run_cpu_layer(benchmark::State& state, const LayerCase& c, const LengthHistogram& histogram) {
  const LayerWorkload work(c, histogram);
  const RnnShape shape = c.shape();
  static ThreadTeam team(0);
  use_single_threaded_libraries();
  if (c.math == RnnMath::Bf16 && !bf16_matmul_available()) {
    state.SkipWithError(bf16_unavailable_reason().c_str());
    return;
  }
  CpuRnn<float> rnn(shape, 0.0f, CpuRnnOptions{&team, c.math == RnnMath::Bf16});

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

}  // namespace rnnb::bench

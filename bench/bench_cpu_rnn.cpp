// Throughput of the CPU recurrent stack on the default model's shape (embed 128, hidden
// 256, one layer, batch 64) over a realistic packed batch: lengths drawn between 100 and
// 400 tokens and sorted, as the IMDB batches are. Reports real tokens/s and GFLOP/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "util/rng.h"

namespace rnnb {
namespace {

constexpr int kEmbed = 128;
constexpr int kHidden = 256;
constexpr int kBatch = 64;

const Cell kCells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm};

struct Workload {
  RnnShape shape;
  std::vector<int> batch_sizes;
  size_t tokens = 0;
  std::vector<float> w, x, y, hy, cy, dy, dhy, dcy, dx, dw;

  explicit Workload(Cell cell) : shape{cell, kEmbed, kHidden, 1, 1} {
    Rng rng(2024);
    std::vector<int> lens(kBatch);
    for (int& len : lens) len = 100 + static_cast<int>(rng.below(301));
    std::sort(lens.begin(), lens.end(), std::greater<int>());
    for (int t = 0; t < lens[0]; ++t) {
      int active = 0;
      for (int len : lens) active += len > t ? 1 : 0;
      batch_sizes.push_back(active);
      tokens += active;
    }
    auto fill = [&](std::vector<float>& v, size_t n, float scale) {
      v.resize(n);
      for (float& e : v) e = rng.uniform(-scale, scale);
    };
    const size_t states = static_cast<size_t>(kBatch) * kHidden;
    fill(w, shape.weight_count(), 0.0625f);  // 1/sqrt(H), as the initialisation uses
    fill(x, tokens * kEmbed, 1.0f);
    fill(dy, tokens * shape.output(), 1e-3f);
    fill(dhy, states, 1e-3f);
    fill(dcy, states, 1e-3f);
    y.resize(tokens * shape.output());
    hy.resize(states);
    cy.resize(states);
    dx.resize(x.size());
    dw.assign(w.size(), 0.0f);
  }

  float* cy_or_null() { return shape.cell == Cell::Lstm ? cy.data() : nullptr; }
  const float* dcy_or_null() const { return shape.cell == Cell::Lstm ? dcy.data() : nullptr; }

  // Forward flops of one pass: 2*G*H*(I+H) per real token.
  double forward_flops() const {
    return 2.0 * shape.gates() * kHidden * (kEmbed + kHidden) * static_cast<double>(tokens);
  }
};

void report(benchmark::State& state, const Workload& work, double flops_per_iteration) {
  state.SetLabel(cell_name(work.shape.cell));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(work.tokens));
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens"] = static_cast<double>(work.tokens);
}

void BM_RnnForward(benchmark::State& state) {
  Workload work(kCells[state.range(0)]);
  CpuRnn<float> rnn(work.shape);
  for (auto _ : state) {
    rnn.forward(work.w.data(), work.x.data(), work.batch_sizes, work.y.data(), work.hy.data(),
                work.cy_or_null(), false, nullptr);
    benchmark::DoNotOptimize(work.y.data());
  }
  report(state, work, work.forward_flops());
}

void BM_RnnForwardBackward(benchmark::State& state) {
  Workload work(kCells[state.range(0)]);
  CpuRnn<float> rnn(work.shape);
  for (auto _ : state) {
    rnn.forward(work.w.data(), work.x.data(), work.batch_sizes, work.y.data(), work.hy.data(),
                work.cy_or_null(), true, nullptr);
    rnn.backward(work.w.data(), work.dy.data(), work.dhy.data(), work.dcy_or_null(),
                 work.dx.data(), work.dw.data());
    benchmark::DoNotOptimize(work.dw.data());
  }
  report(state, work, 3.0 * work.forward_flops());  // backward counted as twice forward
}

// Argument: index into kCells (0 rnn-tanh, 1 rnn-relu, 2 gru, 3 lstm).
BENCHMARK(BM_RnnForward)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RnnForwardBackward)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rnnb

BENCHMARK_MAIN();

// The OpenBLAS ceiling for the CPU recurrent stack: raw cblas_sgemm on the matrix products
// of a layer case (cpu/rnn_cpu.cpp), in the whole-batch form where the stack has a choice
// (it projects the inputs per step and takes the weight gradients per chunk):
//   forward, per layer and direction: the input projection [N x I] x [I x G*H] once, then
//     per step [b_t x H] x [H x G*H] over the rows that carry a state;
//   backward: per step [b_t x G*H] x [G*H x H], then dW = dG^T X, dR = dG^T H_prev and
//     dX = dG W over all N tokens.
// Nothing else (no cell arithmetic, no copies), so its time is what the stack would take
// if everything but the matrix products were free. The GFLOP/s use the same formula as
// bench_cpu_rnn and the same batches (same names after the prefix); cpu_stack/* runs CpuRnn
// on the same cases in the same process, so
//   fraction of the ceiling = cpu_stack GFLOP/s / blas_ceiling GFLOP/s.
// blas_shape/* time the single products of the default GRU one by one.
//
//   bench_blas_ceiling [--quick] [Google Benchmark flags]
#include <benchmark/benchmark.h>
#ifdef RNNB_CBLAS_HEADER
#include RNNB_CBLAS_HEADER
#else
#include <cblas.h>
#endif

#include <vector>

#include "cpu_layer.h"
#include "layer_cases.h"

namespace rnnb::bench {
namespace {

// Row-major C[m x n] = op(A) op(B) + beta C with the leading dimensions CpuRnn uses.
void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
           float* c, int ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              lda, b, ldb, beta, c, ldc);
}

struct Buffers {
  std::vector<float> x, w, r, gates, gr, dg, dh, dw, dr, dx, hprev;
};

// CpuRnn's product sequence for one batch (see the file comment).
void stack_products(const RnnShape& shape, const std::vector<int>& batch_sizes, bool backward, Buffers& m) {
  const int H = shape.hidden, GH = shape.gates() * shape.hidden;
  int N = 0;
  for (int rows : batch_sizes) N += rows;
  const int steps = static_cast<int>(batch_sizes.size());
  auto prev_rows = [&](int dir, int t) {
    if (dir == 0) return t > 0 ? batch_sizes[t] : 0;
    return t + 1 < steps ? batch_sizes[t + 1] : 0;
  };
  for (int l = 0; l < shape.layers; ++l)
    for (int d = 0; d < shape.dirs; ++d) {
      const int I = shape.layer_input(l);
      sgemm(false, true, N, GH, I, m.x.data(), I, m.w.data(), I, 1.0f, m.gates.data(), GH);
      for (int k = 0; k < steps; ++k) {
        const int t = d == 0 ? k : steps - 1 - k;
        sgemm(false, true, prev_rows(d, t), GH, H, m.hprev.data(), H, m.r.data(), H, 0.0f, m.gr.data(), GH);
      }
    }
  if (!backward) return;
  for (int l = shape.layers - 1; l >= 0; --l)
    for (int d = 0; d < shape.dirs; ++d) {
      const int I = shape.layer_input(l);
      const float beta = shape.cell == Cell::Gru ? 1.0f : 0.0f;
      for (int k = 0; k < steps; ++k) {
        const int t = d == 0 ? steps - 1 - k : k;
        sgemm(false, false, prev_rows(d, t), H, GH, m.dg.data(), GH, m.r.data(), H, beta, m.dh.data(), H);
      }
      sgemm(true, false, GH, I, N, m.dg.data(), GH, m.x.data(), I, 1.0f, m.dw.data(), I);
      sgemm(true, false, GH, H, N, m.dg.data(), GH, m.hprev.data(), H, 1.0f, m.dr.data(), H);
      sgemm(false, false, N, I, GH, m.dg.data(), GH, m.w.data(), I, d == 0 ? 0.0f : 1.0f, m.dx.data(), I);
    }
}

void run_ceiling(benchmark::State& state, const LayerCase& c, const LengthHistogram& histogram) {
  // OpenBLAS on every core, whatever the interleaved cpu_stack runs (single-threaded
  // libraries inside their lanes) left set.
  openblas_set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const LayerWorkload work(c, histogram);
  const RnnShape shape = c.shape();
  const size_t N = static_cast<size_t>(work.max_rows), H = shape.hidden, GH = shape.gates() * H;
  const size_t I = static_cast<size_t>(std::max(shape.input, shape.output()));
  Buffers m;
  auto make = [](std::vector<float>& v, size_t n, uint64_t seed) {
    v.resize(n);
    fill_random(v.data(), n, 0.1f, seed);
  };
  make(m.x, N * I, 1);
  make(m.w, GH * I, 2);
  make(m.r, GH * H, 3);
  make(m.gates, N * GH, 4);
  make(m.gr, static_cast<size_t>(c.batch) * GH, 5);
  make(m.dg, N * GH, 6);
  make(m.dh, static_cast<size_t>(c.batch) * H, 7);
  make(m.dw, GH * I, 8);
  make(m.dr, GH * H, 9);
  make(m.dx, N * I, 10);
  make(m.hprev, N * H, 11);
  std::vector<std::vector<int>> steps;
  for (const std::vector<int>& lengths : work.lengths) steps.push_back(step_batch_sizes(lengths, c.padded));
  auto run_once = [&] {
    for (const std::vector<int>& batch_sizes : steps) stack_products(shape, batch_sizes, c.backward, m);
    benchmark::DoNotOptimize(m.dw.data());
  };
  run_once();
  for (auto _ : state) run_once();
  set_throughput_counters(state, work.sequences, work.real, work.computed, work.flops);
}

// One product C[m x n] = op(A)[m x k] op(B)[k x n].
void run_shape(benchmark::State& state, bool ta, bool tb, int m, int n, int k) {
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n), c(static_cast<size_t>(m) * n);
  fill_random(a.data(), a.size(), 0.1f, 1);
  fill_random(b.data(), b.size(), 0.1f, 2);
  const int lda = ta ? m : k, ldb = tb ? k : n;
  for (auto _ : state) {
    sgemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP_per_second"] =
      benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb;
  using namespace rnnb::bench;
  const Mode mode = parse_mode(argc, argv);
  static const LengthHistogram lengths = layer_lengths(mode);
  add_common_context(mode);
  add_lengths_context(lengths);

  // The ceiling for the CPU layer cases the report compares against: the default shape
  // for each cell (rnn-relu has rnn-tanh's products), packed, on random and bucketed batches.
  LayerCase base;
  if (mode.quick) base.embed = 8, base.hidden = 16, base.batch = 4, base.length_scale = 32;
  for (bool backward : {false, true})
    for (Lengths kind : {Lengths::Imdb, Lengths::ImdbBucket})
      for (Cell cell : {Cell::RnnTanh, Cell::Gru, Cell::Lstm}) {
        LayerCase c = base;
        c.backward = backward;
        c.lengths = kind;
        c.cell = cell;
        auto* b = benchmark::RegisterBenchmark(c.name("blas_ceiling", false).c_str(),
                                               [c](benchmark::State& state) { run_ceiling(state, c, lengths); });
        // The stack itself on the same case, in the same run: with interleaved repetitions
        // both see the same machine state, which a shared machine does not keep from one
        // run to the next.
        auto* s = benchmark::RegisterBenchmark(c.name("cpu_stack", false).c_str(),
                                               [c](benchmark::State& state) { run_cpu_layer(state, c, lengths); });
        for (auto* bench : {b, s}) {
          bench->Unit(benchmark::kMillisecond)->UseRealTime();
          if (mode.quick) bench->Iterations(2);
        }
      }

  // The default GRU's products one by one; N is the real tokens of its packed random batch.
  const LayerWorkload work(base, lengths);
  const int N = static_cast<int>(work.real), I = base.embed, H = base.hidden, GH = 3 * base.hidden, B = base.batch;
  struct Product {
    const char* name;
    bool ta, tb;
    int m, n, k;
  };
  const Product products[] = {
      {"input_projection", false, true, N, GH, I},     // X W^T
      {"step_forward", false, true, B, GH, H},         // h R^T at a full step
      {"step_backward", false, false, B, H, GH},       // dG R
      {"weight_grad_input", true, false, GH, I, N},    // dG^T X
      {"weight_grad_recurrent", true, false, GH, H, N},  // dG^T H_prev
      {"input_grad", false, false, N, I, GH},          // dG W
  };
  for (const Product& p : products) {
    const std::string name = std::string("blas_shape/") + p.name + "/m:" + std::to_string(p.m) +
                             "/n:" + std::to_string(p.n) + "/k:" + std::to_string(p.k);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), [p](benchmark::State& state) {
      run_shape(state, p.ta, p.tb, p.m, p.n, p.k);
    });
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
    if (mode.quick) b->Iterations(2);
  }

  return run_benchmarks(argc, argv);
}

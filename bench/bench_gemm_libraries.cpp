// The CPU stack's matrix products on each library that could run them, side by side:
// OpenBLAS (cblas_sgemm), oneDNN (dnnl_sgemm and its matmul primitive, fp32 and bf16),
// libxsmm (JIT kernels), and the stack's own bf16 products (rnnb_bf16: Bf16Matmul, the
// weights in the layout oneDNN's kernels read). The products are the stack's own, with its
// shapes, transposes and beta (cpu/rnn_cpu.cpp), for the default model's widths of each cell:
//   step_fwd per step, RNN and LSTM: [x | h_prev] [W^T; R^T]   [32 x (I+H)] [(I+H) x G*H]
//   rec_fwd  per step, GRU: h_prev R^T over one lane's rows     [32 x H] [H x G*H]
//   in_proj  per step, GRU: x W^T over one lane's rows          [32 x I] [I x G*H]
//   rec_bwd  per step: dG R over one lane's rows (beta 1)       [32 x G*H] [G*H x H]
//   d_w      weight gradient chunk, dW^T += X^T dG (X rows)     [C x I]^T [C x G*H]
//   d_r      recurrent weight gradient chunk (beta 1)           [C x H]^T [C x G*H]
//   d_x      input gradient chunk                               [C x G*H] [G*H x I]
// with chunks of C = 96 rows in fp32 and 192 in bf16, as the stack takes them. libxsmm's
// dispatch has no transposed A: its d_w and d_r report an error (the stack sends those
// to OpenBLAS on libxsmm).
// Each runs single-threaded on one and on both cores at once (threads:2, every thread its
// own operands), as the stack's lanes run them; GFLOP_per_second is the machine's total.
// large/<library>/lib_threads:N is a 2048^3 fp32 product with the library's own threading
// (OpenBLAS, oneDNN; libxsmm's kernels are single-threaded): the best of these is the
// machine's fp32 large-GEMM rate the report measures the epoch against.
//
//   bench_gemm_libraries [--quick] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "cpu/matmul.h"
#include "cpu/matmul_bf16.h"
#include "util/error.h"

#ifdef RNNB_WITH_ONEDNN
#include <dnnl.hpp>
extern "C" void omp_set_num_threads(int);
#endif
#ifdef RNNB_WITH_LIBXSMM
#include <libxsmm.h>
#endif

namespace rnnb::bench {
namespace {

// Row-major C[m x n] = A[m x k] B[k x n] + beta C, dense (A^T B with A [k x m] where
// a_transposed). weight: B is one of the layer's weights (else a chunk of gate gradients).
// a_bf16: the stack's bf16 path has A rounded before the call (gate gradients, the chunk's
// gathered rows), not in it.
struct Product {
  std::string name;
  int m, n, k;
  float beta;
  bool weight, a_bf16, a_transposed;
  int lda() const { return a_transposed ? m : k; }
};

std::vector<Product> stack_products(int input, int hidden, int gates, int lane_rows, int chunk) {
  const int gh = gates * hidden;
  std::vector<Product> list;
  if (gates == 3) {
    list.push_back({"rec_fwd", lane_rows, gh, hidden, 0.0f, true, false, false});
    list.push_back({"in_proj", lane_rows, gh, input, 0.0f, true, false, false});
  } else {
    list.push_back({"step_fwd", lane_rows, gh, input + hidden, 0.0f, true, false, false});
  }
  list.push_back({"rec_bwd", lane_rows, hidden, gh, 1.0f, true, true, false});
  list.push_back({"d_w", input, gh, chunk, 1.0f, false, true, true});
  list.push_back({"d_r", hidden, gh, chunk, 1.0f, false, true, true});
  list.push_back({"d_x", chunk, input, gh, 0.0f, true, true, false});
  return list;
}

// One library's way to run a product on given operands; bf16 ones take converted copies.
struct Operands {
  std::vector<float> a, b, c;
  std::vector<Bf16> a16, b16;
};
using Runner = std::function<void(const Product&, Operands&)>;

Operands make_operands(const Product& p, uint64_t seed) {
  Operands o;
  o.a.resize(static_cast<size_t>(p.m) * p.k);
  o.b.resize(static_cast<size_t>(p.k) * p.n);
  o.c.resize(static_cast<size_t>(p.m) * p.n);
  fill_random(o.a.data(), o.a.size(), 0.1f, seed);
  fill_random(o.b.data(), o.b.size(), 0.1f, seed + 1);
  fill_random(o.c.data(), o.c.size(), 0.1f, seed + 2);
  to_bf16(o.a.data(), o.a.size(), o.a16);
  to_bf16(o.b.data(), o.b.size(), o.b16);
  return o;
}

void openblas(const Product& p, Operands& o) {
  cblas_sgemm(CblasRowMajor, p.a_transposed ? CblasTrans : CblasNoTrans, CblasNoTrans, p.m, p.n, p.k, 1.0f,
              o.a.data(), p.lda(), o.b.data(), p.n, p.beta, o.c.data(), p.n);
}

#ifdef RNNB_WITH_ONEDNN
void onednn_sgemm(const Product& p, Operands& o) {
  dnnl_sgemm(p.a_transposed ? 'T' : 'N', 'N', p.m, p.n, p.k, 1.0f, o.a.data(), p.lda(), o.b.data(), p.n, p.beta,
             o.c.data(), p.n);
}

// The matmul primitive, built once per product and thread (building it JIT-compiles it).
Runner onednn_matmul(bool bf16) {
  struct Built {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    std::unique_ptr<dnnl::matmul> primitive;
  };
  return [bf16, built = std::make_shared<Built>()](const Product& p, Operands& o) mutable {
    using dt = dnnl::memory::data_type;
    const dt in = bf16 ? dt::bf16 : dt::f32;
    const dnnl::memory::dims a_strides = p.a_transposed ? dnnl::memory::dims{1, p.m} : dnnl::memory::dims{p.k, 1};
    const dnnl::memory::desc a({p.m, p.k}, in, a_strides), b({p.k, p.n}, in, {p.n, 1});
    const dnnl::memory::desc c({p.m, p.n}, dt::f32, {p.n, 1});
    if (!built->primitive) {
      dnnl::primitive_attr attr;
      if (p.beta != 0.0f) {
        dnnl::post_ops ops;
        ops.append_sum(1.0f);
        attr.set_post_ops(ops);
      }
      built->primitive = std::make_unique<dnnl::matmul>(
          dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, built->engine));
    }
    void* a_data = bf16 ? static_cast<void*>(o.a16.data()) : o.a.data();
    void* b_data = bf16 ? static_cast<void*>(o.b16.data()) : o.b.data();
    built->primitive->execute(built->stream, {{DNNL_ARG_SRC, dnnl::memory(a, built->engine, a_data)},
                                              {DNNL_ARG_WEIGHTS, dnnl::memory(b, built->engine, b_data)},
                                              {DNNL_ARG_DST, dnnl::memory(c, built->engine, o.c.data())}});
    built->stream.wait();
  };
}

// The stack's bf16 path, per lane: a weight B set once into a Bf16Weight (as the stack
// does once per update), a gradient chunk B as plain bf16; A rounded from fp32 in the
// call, except where the stack rounds it beforehand (a_bf16).
Runner rnnb_bf16() {
  struct Lane {
    Bf16Matmul matmul;
    Bf16Weight weight;
    bool weight_set = false;
  };
  return [lane = std::make_shared<Lane>()](const Product& p, Operands& o) {
    if (!p.weight && p.a_transposed)
      return lane->matmul.matmul_at(p.m, p.n, p.k, o.a16.data(), p.m, o.b16.data(), p.n, p.beta, o.c.data(), p.n);
    if (!p.weight)
      return lane->matmul.matmul(p.m, p.n, p.k, o.a.data(), p.k, o.b16.data(), p.n, p.beta, o.c.data(), p.n);
    if (!lane->weight_set) {
      lane->weight.set(o.b.data(), p.k, p.n);
      lane->weight_set = true;
    }
    if (p.a_bf16)
      lane->matmul.matmul(p.m, o.a16.data(), p.k, lane->weight, p.beta, o.c.data(), p.n);
    else
      lane->matmul.matmul(p.m, o.a.data(), p.k, lane->weight, p.beta, o.c.data(), p.n);
  };
}
#endif

#ifdef RNNB_WITH_LIBXSMM
// Column-major underneath: the row-major C = A B is C' = B' A' (cpu/matmul.cpp).
void libxsmm(const Product& p, Operands& o) {
  if (p.a_transposed) throw Error("libxsmm's dispatch takes no transposed A");
  const float alpha = 1.0f;
  const libxsmm_blasint lda = p.n, ldb = p.k, ldc = p.n;
  const libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(p.n, p.m, p.k, &lda, &ldb, &ldc, &alpha, &p.beta, nullptr, nullptr);
  if (!kernel) throw Error("libxsmm has no kernel for " + p.name);
  kernel(o.b.data(), o.a.data(), o.c.data());
}
#endif

struct Library {
  std::string name;
  std::function<Runner()> make;  // a runner per benchmark thread
  bool bf16 = false;             // takes the stack's bf16 chunk size
};

std::vector<Library> libraries() {
  std::vector<Library> list = {{"openblas", [] { return Runner(openblas); }}};
#ifdef RNNB_WITH_ONEDNN
  list.push_back({"onednn_sgemm", [] { return Runner(onednn_sgemm); }});
  list.push_back({"onednn_matmul", [] { return onednn_matmul(false); }});
  list.push_back({"onednn_matmul_bf16", [] { return onednn_matmul(true); }, true});
  if (bf16_matmul_available()) list.push_back({"rnnb_bf16", [] { return rnnb_bf16(); }, true});
#endif
#ifdef RNNB_WITH_LIBXSMM
  list.push_back({"libxsmm", [] { return Runner(libxsmm); }});
#endif
  return list;
}

// Single-threaded library calls, as inside the stack's lanes.
void single_threaded() {
  use_single_threaded_libraries();
  use_single_threaded_onednn();
}

void run_product(benchmark::State& state, const Library& library, const Product& p) {
  single_threaded();
  Operands o = make_operands(p, 7 + state.thread_index());
  Runner run = library.make();
  try {
    run(p, o);
    for (auto _ : state) {
      run(p, o);
      benchmark::DoNotOptimize(o.c.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // Google Benchmark sums a counter over the threads and counts their iterations together:
  // averaged over the threads, the rate is the machine's total.
  state.counters["GFLOP_per_second"] = benchmark::Counter(
      2.0 * p.m * p.n * p.k * 1e-9,
      static_cast<benchmark::Counter::Flags>(benchmark::Counter::kIsIterationInvariantRate |
                                             benchmark::Counter::kAvgThreads));
}

// A large product with the library's own threads (OpenBLAS's pool, oneDNN's OpenMP team).
void run_large(benchmark::State& state, const Library& library, int size, int threads) {
  openblas_set_num_threads(threads);
#ifdef RNNB_WITH_ONEDNN
  omp_set_num_threads(threads);
#endif
  const Product p{"large", size, size, size, 0.0f, false, false, false};
  Operands o = make_operands(p, 3);
  Runner run = library.make();
  run(p, o);
  for (auto _ : state) {
    run(p, o);
    benchmark::DoNotOptimize(o.c.data());
  }
  state.counters["GFLOP_per_second"] =
      benchmark::Counter(2.0 * p.m * p.n * p.k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  single_threaded();
}

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb;
  using namespace rnnb::bench;
  const Mode mode = parse_mode(argc, argv);
  add_common_context(mode);
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The default model: embed 128, hidden 256; batch 64 split between two lanes.
  const int input = mode.quick ? 8 : 128, hidden = mode.quick ? 16 : 256, lane_rows = mode.quick ? 4 : 32;
  const int chunk = mode.quick ? 8 : 96, chunk_bf16 = mode.quick ? 16 : 192;
  const std::pair<const char*, int> cells[] = {{"gru", 3}, {"lstm", 4}, {"rnn-tanh", 1}};
  for (const Library& library : libraries()) {
    for (const auto& [cell, gates] : cells)
      for (const Product& p : stack_products(input, hidden, gates, lane_rows, library.bf16 ? chunk_bf16 : chunk)) {
        const std::string name = "gemm/" + library.name + "/" + p.name + "/cell:" + cell + "/m:" +
                                 std::to_string(p.m) + "/n:" + std::to_string(p.n) + "/k:" + std::to_string(p.k);
        auto* b = benchmark::RegisterBenchmark(name.c_str(), [library, p](benchmark::State& state) {
          run_product(state, library, p);
        });
        b->Threads(1)->UseRealTime();
        if (hardware > 1) b->Threads(hardware);
        if (mode.quick) b->Iterations(2);
      }
    // The fp32 reference, from the libraries that thread a large product themselves.
    if (library.name == "onednn_matmul_bf16" || library.name == "rnnb_bf16" || library.name == "libxsmm") continue;
    const int size = mode.quick ? 64 : 2048;
    for (int threads : {1, hardware}) {
      if (threads == 1 && hardware > 1 && !mode.quick) continue;  // the machine's rate: all cores
      const std::string name = "large/" + library.name + "/size:" + std::to_string(size) + "/lib_threads:" +
                               std::to_string(threads);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [library, size, threads](benchmark::State& state) {
        run_large(state, library, size, threads);
      });
      b->UseRealTime()->Unit(benchmark::kMillisecond);
      if (mode.quick) b->Iterations(2);
    }
  }
  return run_benchmarks(argc, argv);
}

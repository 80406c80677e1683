// The matrix products of the CPU recurrent stack, row-major,
//   C[m x n] = A[m x k] B[k x n] + beta C   (beta 0 or 1, row strides lda, ldb, ldc),
// and the same with A transposed for the weight gradients: the stack keeps its operands in
// whichever orientation makes each product one of these (cpu/rnn_cpu.cpp).
// Float runs on oneDNN's sgemm where the build has oneDNN (fastest on these shapes with both
// cores busy, docs/BENCHMARKS.md), else on libxsmm's JIT kernels, else on OpenBLAS. Where
// those kernels have no AVX-512, products 1024 or more wide run on OpenBLAS: there oneDNN
// and libxsmm fall to half its rate on the LSTM's four gates of 256 (docs/BENCHMARKS.md,
// "Without AVX-512"). The rule covers every such product (a GRU with H >= 342, inputs of
// 1024 or more in the data gradient), which only the 1024-wide LSTM shapes have measured.
// RNNB_CPU_GEMM=onednn|libxsmm|openblas puts every product on one library for comparisons
// (libxsmm's dispatch takes no transposed operand: on libxsmm, A^T B runs on OpenBLAS).
// Double, the precision of the gradient tests, runs on OpenBLAS. Every call is
// single-threaded: the caller splits the work between its lanes (cpu/thread_team.h).
#pragma once

#include <string>

namespace rnnb {

enum class FloatLibrary { Libxsmm, OneDnn, OpenBlas };

// Which library runs a float product, by the product's width n.
struct FloatLibraryChoice {
  FloatLibrary narrow;
  FloatLibrary wide;  // from wide_from columns on
  static constexpr int wide_from = 1024;
  FloatLibrary for_width(int n) const { return n >= wide_from ? wide : narrow; }
};

// The choice for RNNB_CPU_GEMM's value (empty when unset) on a CPU whose kernels do or do
// not have AVX-512. Fails on a library that is unknown or not in this build.
FloatLibraryChoice choose_float_libraries(const std::string& wanted, bool avx512);

void matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
            int ldc);
void matmul(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
            int ldc);
// C[m x n] = A^T B + beta C with A stored [k x m] (row stride lda): the weight gradients'
// form X^T dG, whose X rows the libraries read as they pack, so nobody transposes them.
void matmul_at(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
               int ldc);
void matmul_at(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
               int ldc);

// The float products' libraries for reports: "oneDNN sgemm", "libxsmm 1.17", "OpenBLAS",
// or e.g. "oneDNN sgemm; OpenBLAS from 1024 columns".
const char* float_matmul_library();

// Makes library calls single-threaded (OpenBLAS and OpenMP-based libraries would otherwise
// start their own threads inside a lane): OpenBLAS for the whole process, oneDNN's OpenMP
// runtime for the calling thread (cheap: called before each oneDNN call). No-op without
// the library.
void use_single_threaded_libraries();
void use_single_threaded_onednn();

}  // namespace rnnb

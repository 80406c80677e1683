// The matrix products of the CPU recurrent stack, row-major and in one form only,
//   C[m x n] = A[m x k] B[k x n] + beta C   (beta 0 or 1, row strides lda, ldb, ldc):
// the stack keeps its operands in whichever orientation makes each product this one
// (cpu/rnn_cpu.cpp).
// Float runs on oneDNN's sgemm where the build has oneDNN (fastest on these shapes with both
// cores busy, docs/BENCHMARKS.md), else on libxsmm's JIT kernels, else on OpenBLAS;
// RNNB_CPU_GEMM=onednn|libxsmm|openblas picks one for comparisons. Double, the precision
// of the gradient tests, runs on OpenBLAS. Every call is single-threaded: the caller splits the work
// between its lanes (cpu/thread_team.h).
#pragma once

namespace rnnb {

void matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
            int ldc);
void matmul(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
            int ldc);

// "oneDNN sgemm", "libxsmm 1.17" or "OpenBLAS" (float products), for reports.
const char* float_matmul_library();

// Makes library calls single-threaded (OpenBLAS and OpenMP-based libraries would otherwise
// start their own threads inside a lane): OpenBLAS for the whole process, oneDNN's OpenMP
// runtime for the calling thread (cheap: called before each oneDNN call). No-op without
// the library.
void use_single_threaded_libraries();
void use_single_threaded_onednn();

}  // namespace rnnb

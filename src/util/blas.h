// Row-major matrix products for the CPU backend, through a real BLAS (OpenBLAS).
// C[m x n] = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions.
#pragma once

namespace rnnb {

enum class Trans { No, Yes };

void gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);
void gemm(Trans ta, Trans tb, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc);

// OpenBLAS's own thread count (the CPU backend runs it single-threaded in its lanes).
int blas_threads();

}  // namespace rnnb

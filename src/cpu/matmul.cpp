// CPU matrix products (cpu/matmul.h). libxsmm is column-major: the row-major product
// C = A B is, read column-major, C' = B' A', so A and B trade places in each call.
#include "cpu/matmul.h"

#include <algorithm>
#include <cblas.h>

#include "util/error.h"

#ifdef RNNB_WITH_LIBXSMM
#include <libxsmm.h>
#endif

namespace rnnb {
namespace {

void blas_matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
                 int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

void matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
            int ldc) {
  if (m <= 0 || n <= 0) return;
  RNNB_ASSERT(beta == 0.0f || beta == 1.0f);
  if (k <= 0) {
    if (beta == 0.0f)
      for (int i = 0; i < m; ++i) std::fill(c + static_cast<size_t>(i) * ldc, c + static_cast<size_t>(i) * ldc + n, 0.0f);
    return;
  }
#ifdef RNNB_WITH_LIBXSMM
  const float alpha = 1.0f;
  const libxsmm_blasint lda_x = ldb, ldb_x = lda, ldc_x = ldc;
  // libxsmm keeps its kernels in a registry: the lookup is a hash probe after the first call.
  if (const libxsmm_smmfunction kernel =
          libxsmm_smmdispatch(n, m, k, &lda_x, &ldb_x, &ldc_x, &alpha, &beta, nullptr, nullptr)) {
    kernel(b, a, c);
    return;
  }
#endif
  blas_matmul(m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void matmul(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
            int ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, std::max(k, 0), 1.0, a, lda, b, ldb, beta, c, ldc);
}

const char* float_matmul_library() {
#ifdef RNNB_WITH_LIBXSMM
  return "libxsmm " LIBXSMM_VERSION;
#else
  return "OpenBLAS";
#endif
}

void use_single_threaded_libraries() { openblas_set_num_threads(1); }

}  // namespace rnnb

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

// Tokens per tile in matmul_tn_add: a transposed tile of B [n x kTile] stays in L1/L2.
constexpr int kTile = 128;

void blas_matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
                 int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

// dst[cols x rows] = src[rows x cols]^T, src row stride ld; in 16 x 16 blocks so both the
// reads and the writes stay within a few cache lines.
void transpose_tile(const float* __restrict src, int rows, int cols, int ld, float* __restrict dst) {
  constexpr int kBlock = 16;
  for (int r0 = 0; r0 < rows; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock) {
      const int r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) dst[static_cast<size_t>(c) * rows + r] = src[static_cast<size_t>(r) * ld + c];
    }
}

// c[cols x rows] (ldc) += src[rows x cols]^T.
void transpose_add(const float* __restrict src, int rows, int cols, float* __restrict c, int ldc) {
  constexpr int kBlock = 16;
  for (int r0 = 0; r0 < rows; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock) {
      const int r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int col = c0; col < c1; ++col)
        for (int r = r0; r < r1; ++r) c[static_cast<size_t>(col) * ldc + r] += src[static_cast<size_t>(r) * cols + col];
    }
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

void matmul_tn_add(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
                   std::vector<float>& scratch) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  // C^T [n x m] = sum over tiles of B_tile^T A_tile: only B (the narrower operand in the
  // stack's products) is transposed, tile by tile, and C^T is added into C at the end.
  const size_t ct_size = static_cast<size_t>(n) * m;
  if (scratch.size() < ct_size + static_cast<size_t>(n) * kTile) scratch.resize(ct_size + static_cast<size_t>(n) * kTile);
  float* ct = scratch.data();
  float* bt = ct + ct_size;
  for (int k0 = 0; k0 < k; k0 += kTile) {
    const int kt = std::min(kTile, k - k0);
    transpose_tile(b + static_cast<size_t>(k0) * ldb, kt, n, ldb, bt);
    matmul(n, m, kt, bt, kt, a + static_cast<size_t>(k0) * lda, lda, k0 == 0 ? 0.0f : 1.0f, ct, m);
  }
  transpose_add(ct, n, m, c, ldc);
}

void matmul_tn_add(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double* c, int ldc,
                   std::vector<double>&) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, 1.0, c, ldc);
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

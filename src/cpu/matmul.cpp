// CPU matrix products (cpu/matmul.h). The float libraries are chosen once: RNNB_CPU_GEMM
// (libxsmm, onednn or openblas) when set, else the first the build has of the default
// order, with OpenBLAS for the wide products where the kernels lack AVX-512. libxsmm is
// column-major: the row-major product C = A B is, read column-major, C' = B' A', so A and
// B trade places in its calls.
#include "cpu/matmul.h"

#include <algorithm>
#include <cblas.h>
#include <cstdlib>
#include <string>

#include "util/error.h"

#ifdef RNNB_WITH_LIBXSMM
#include <libxsmm.h>
#endif
#ifdef RNNB_WITH_ONEDNN
#include <dnnl.h>
extern "C" void omp_set_num_threads(int);  // oneDNN's threading runtime (OpenMP)
#endif

namespace rnnb {
namespace {

// Whether the CPU kernels have AVX-512: oneDNN's effective ISA where the build has oneDNN
// (so ONEDNN_MAX_CPU_ISA=AVX2 reproduces an AVX2-only CPU's choice), else the CPU's flags.
bool kernels_have_avx512() {
#ifdef RNNB_WITH_ONEDNN
  return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
#elif defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

const FloatLibraryChoice& float_libraries() {
  static const FloatLibraryChoice choice = [] {
    const char* env = std::getenv("RNNB_CPU_GEMM");
    return choose_float_libraries(env ? env : "", kernels_have_avx512());
  }();
  return choice;
}

const char* library_name(FloatLibrary library) {
  switch (library) {
    case FloatLibrary::OneDnn: return "oneDNN sgemm";
#ifdef RNNB_WITH_LIBXSMM
    case FloatLibrary::Libxsmm: return "libxsmm " LIBXSMM_VERSION;
#else
    case FloatLibrary::Libxsmm: return "libxsmm";
#endif
    case FloatLibrary::OpenBlas: break;
  }
  return "OpenBLAS";
}

void blas_matmul(bool a_transposed, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, a_transposed ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
              beta, c, ldc);
}

}  // namespace

FloatLibraryChoice choose_float_libraries(const std::string& wanted, bool avx512) {
  const auto only = [](FloatLibrary library) { return FloatLibraryChoice{library, library}; };
  [[maybe_unused]] const auto wide_on_openblas = [&](FloatLibrary library) {
    return FloatLibraryChoice{library, avx512 ? library : FloatLibrary::OpenBlas};
  };
#ifdef RNNB_WITH_ONEDNN
  if (wanted.empty()) return wide_on_openblas(FloatLibrary::OneDnn);
  if (wanted == "onednn") return only(FloatLibrary::OneDnn);
#endif
#ifdef RNNB_WITH_LIBXSMM
  if (wanted.empty()) return wide_on_openblas(FloatLibrary::Libxsmm);
  if (wanted == "libxsmm") return only(FloatLibrary::Libxsmm);
#endif
  if (wanted.empty() || wanted == "openblas") return only(FloatLibrary::OpenBlas);
  fail("RNNB_CPU_GEMM=" + wanted + ": this build's float products are onednn, libxsmm or openblas, as built");
}

namespace {

void float_matmul(bool a_transposed, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                  float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  RNNB_ASSERT(beta == 0.0f || beta == 1.0f);
  if (k <= 0) {
    if (beta == 0.0f)
      for (int i = 0; i < m; ++i) std::fill(c + static_cast<size_t>(i) * ldc, c + static_cast<size_t>(i) * ldc + n, 0.0f);
    return;
  }
  // Read even in a build with OpenBLAS alone: it is where a bad RNNB_CPU_GEMM is refused.
  [[maybe_unused]] const FloatLibrary library = float_libraries().for_width(n);
#ifdef RNNB_WITH_ONEDNN
  if (library == FloatLibrary::OneDnn) {
    use_single_threaded_onednn();
    if (dnnl_sgemm(a_transposed ? 'T' : 'N', 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc) != dnnl_success)
      fail("oneDNN sgemm failed on " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
    return;
  }
#endif
#ifdef RNNB_WITH_LIBXSMM
  // libxsmm's dispatch takes no transposed operand: a transposed A goes to OpenBLAS.
  if (library == FloatLibrary::Libxsmm && !a_transposed) {
    const float alpha = 1.0f;
    const libxsmm_blasint lda_x = ldb, ldb_x = lda, ldc_x = ldc;
    // libxsmm keeps its kernels in a registry: the lookup is a hash probe after the first call.
    if (const libxsmm_smmfunction kernel =
            libxsmm_smmdispatch(n, m, k, &lda_x, &ldb_x, &ldc_x, &alpha, &beta, nullptr, nullptr)) {
      kernel(b, a, c);
      return;
    }
  }
#endif
  blas_matmul(a_transposed, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

void matmul(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
            int ldc) {
  float_matmul(false, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void matmul_at(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
               int ldc) {
  float_matmul(true, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void matmul(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
            int ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, std::max(k, 0), 1.0, a, lda, b, ldb, beta, c, ldc);
}

void matmul_at(int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta, double* c,
               int ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, std::max(k, 0), 1.0, a, lda, b, ldb, beta, c, ldc);
}

const char* float_matmul_library() {
  static const std::string name = [] {
    const FloatLibraryChoice& choice = float_libraries();
    std::string text = library_name(choice.narrow);
    if (choice.wide != choice.narrow)
      text += std::string("; ") + library_name(choice.wide) + " from " +
              std::to_string(FloatLibraryChoice::wide_from) + " columns";
    if (choice.narrow == FloatLibrary::Libxsmm) text += "; OpenBLAS for A^T B";
    return text;
  }();
  return name.c_str();
}

void use_single_threaded_libraries() { openblas_set_num_threads(1); }

void use_single_threaded_onednn() {
#ifdef RNNB_WITH_ONEDNN
  omp_set_num_threads(1);
#endif
}

}  // namespace rnnb

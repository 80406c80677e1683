// bf16 matrix products for the CPU stack's --math bf16: operands rounded to bfloat16, the
// products accumulated and returned in fp32 (cuDNN's reduced-precision semantics). They run
// on oneDNN's matmul primitive, which picks AMX or AVX512-BF16 from the CPU's features;
// a build without oneDNN reports why it has none. Weights are rounded once per update and
// kept in the blocked layout the kernels read, so a product does not repack them per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rnnb {

using Bf16 = uint16_t;  // the upper half of an IEEE float

bool bf16_matmul_available();
std::string bf16_unavailable_reason();
// e.g. "oneDNN 2.6.3 (brg:avx512_core_amx_bf16)"; empty without oneDNN.
std::string bf16_matmul_library();

// dst = src rounded to nearest even (NaN stays NaN, denormals become a zero of their sign,
// as AVX512-BF16's instruction does); a vector is resized to n. to_bf16_portable: the same
// without the instruction (what CPUs without AVX512-BF16 run), for the tests.
void to_bf16(const float* src, size_t n, std::vector<Bf16>& dst);
void to_bf16(const float* src, size_t n, Bf16* dst);
void to_bf16_portable(const float* src, size_t n, Bf16* dst);
float from_bf16(Bf16 v);

// A weight operand B [k x n] in bf16: row-major, and where oneDNN has one, in the blocked
// layout its kernels read (bf16 pairs, on AMX and AVX512-BF16 alike), so a small-M product
// does not repack B per call. Set by one thread at a time, then read by many.
class Bf16Weight {
 public:
  Bf16Weight();
  ~Bf16Weight();
  Bf16Weight(Bf16Weight&&) noexcept;
  Bf16Weight& operator=(Bf16Weight&&) noexcept;

  // B = src [k x n] (row stride n) rounded as to_bf16 rounds.
  void set(const float* src, int k, int n);
  int k() const { return k_; }
  int n() const { return n_; }
  const Bf16* rows() const { return rows_.data(); }  // row-major, row stride n
  const void* blocked() const;                       // null where oneDNN has no blocked layout

 private:
  friend class Bf16Matmul;
  struct Blocked;
  int k_ = 0, n_ = 0;
  std::vector<Bf16> rows_;
  std::unique_ptr<Blocked> blocked_;
};

// One lane's products: oneDNN primitives cached by shape, and the scratch for converted
// operands. Not shared between threads.
class Bf16Matmul {
 public:
  Bf16Matmul();
  ~Bf16Matmul();
  Bf16Matmul(const Bf16Matmul&) = delete;
  Bf16Matmul& operator=(const Bf16Matmul&) = delete;

  // C[m x n] = bf16(A)[m x k] B[k x n] + beta C (beta 0 or 1), B already bf16.
  void matmul(int m, int n, int k, const float* a, int lda, const Bf16* b, int ldb, float beta, float* c, int ldc);
  // The same with A already bf16.
  void matmul(int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, float beta, float* c, int ldc);
  // C[m x n] = A^T B + beta C, A [k x m] and B already bf16 (cpu/matmul.h's matmul_at).
  void matmul_at(int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, float beta, float* c,
                 int ldc);
  // C[m x n] = bf16(A)[m x k] W + beta C with a weight (n and k are W's).
  void matmul(int m, const float* a, int lda, const Bf16Weight& w, float beta, float* c, int ldc);
  void matmul(int m, const Bf16* a, int lda, const Bf16Weight& w, float beta, float* c, int ldc);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rnnb

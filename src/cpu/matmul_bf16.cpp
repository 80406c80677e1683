// bf16 products on oneDNN (cpu/matmul_bf16.h). A primitive is built once per shape and
// lane (building one JIT-compiles its kernel); A is converted into bf16 scratch per call.
#include "cpu/matmul_bf16.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "cpu/matmul.h"
#include "util/error.h"

#ifdef RNNB_WITH_ONEDNN
#include <dnnl.hpp>
#endif

namespace rnnb {
namespace {

// Round to nearest even, NaN kept (quiet), zero and denormals to a zero of their sign: what
// AVX512-BF16's conversion instruction does, so every CPU rounds alike. Branch-free, so that
// the loops over rows vectorise.
inline Bf16 round_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t magnitude = bits & 0x7fffffffu;
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40u;
  const uint32_t signed_zero = (bits >> 16) & 0x8000u;
  return static_cast<Bf16>(magnitude > 0x7f800000u ? quiet_nan : magnitude < 0x00800000u ? signed_zero : rounded);
}

void convert_row_baseline(const float* __restrict src, int n, Bf16* __restrict dst) {
  for (int i = 0; i < n; ++i) dst[i] = round_to_bf16(src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same loop for AVX-512 with BW (its 16-bit stores) and AVX2, chosen below by the CPU's
// features: a target_clones arch= clone is chosen by CPU model and missed every AVX-512 CPU
// but Skylake-X, and clang mis-dispatches x86-64-v4 clones.
__attribute__((target("avx512f,avx512bw"))) void convert_row_avx512(const float* __restrict src, int n,
                                                                      Bf16* __restrict dst) {
  for (int i = 0; i < n; ++i) dst[i] = round_to_bf16(src[i]);
}
__attribute__((target("avx2"))) void convert_row_avx2(const float* __restrict src, int n, Bf16* __restrict dst) {
  for (int i = 0; i < n; ++i) dst[i] = round_to_bf16(src[i]);
}

// 32 floats per instruction (VCVTNE2PS2BF16), the tail under a mask.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
void convert_row_avx512_bf16(const float* __restrict src, int n, Bf16* __restrict dst) {
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<const __m512i&>(pair));
  }
  for (; i < n; i += 16) {
    const __mmask16 lanes = n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256bh half = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, src + i));
    _mm256_mask_storeu_epi16(dst + i, lanes, reinterpret_cast<const __m256i&>(half));
  }
}
#endif

using ConvertRow = void (*)(const float*, int, Bf16*);

// The fastest portable loop the CPU runs (and, with native, its conversion instruction).
ConvertRow pick_convert_row(bool native) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();  // a static initializer elsewhere may convert first
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (native && avx512 && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16"))
    return &convert_row_avx512_bf16;
  if (avx512) return &convert_row_avx512;
  if (__builtin_cpu_supports("avx2")) return &convert_row_avx2;
#endif
  (void)native;
  return &convert_row_baseline;
}

// Chosen once, on first use.
ConvertRow native_convert_row() {
  static const ConvertRow convert = pick_convert_row(true);
  return convert;
}

void convert_row(const float* src, int n, Bf16* dst) { native_convert_row()(src, n, dst); }

void convert_rows(ConvertRow convert, const float* src, size_t n, Bf16* dst) {
  for (size_t i = 0; i < n; i += 1 << 20) convert(src + i, static_cast<int>(std::min<size_t>(n - i, 1 << 20)), dst + i);
}

}  // namespace

void to_bf16(const float* src, size_t n, Bf16* dst) { convert_rows(native_convert_row(), src, n, dst); }

void to_bf16_portable(const float* src, size_t n, Bf16* dst) {
  static const ConvertRow convert = pick_convert_row(false);
  convert_rows(convert, src, n, dst);
}

void to_bf16(const float* src, size_t n, std::vector<Bf16>& dst) {
  dst.resize(n);
  to_bf16(src, n, dst.data());
}

float from_bf16(Bf16 v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

#ifdef RNNB_WITH_ONEDNN

namespace {

using dt = dnnl::memory::data_type;

struct FreeBytes {
  void operator()(void* p) const { std::free(p); }
};

// The layout oneDNN's bf16 matmul wants for a [k x n] weight, as it reports for a product
// of 64 rows (the layout does not depend on the row count), once per shape; none where it
// keeps the row-major layout, has no bf16 matmul or only its reference kernel.
std::optional<dnnl::memory::desc> blocked_layout(int k, int n) {
  static std::mutex mutex;
  static std::map<std::pair<int, int>, std::optional<dnnl::memory::desc>> layouts;
  const std::lock_guard<std::mutex> lock(mutex);
  auto [it, inserted] = layouts.try_emplace({k, n});
  if (!inserted) return it->second;
  try {
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    const dnnl::memory::desc a({64, k}, dt::bf16, {k, 1}), rows({k, n}, dt::bf16, {n, 1});
    const dnnl::memory::desc any({k, n}, dt::bf16, dnnl::memory::format_tag::any), c({64, n}, dt::f32, {n, 1});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, any, c), engine);
    const bool reference = std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
    if (!reference && !(pd.weights_desc() == rows)) it->second = pd.weights_desc();
  } catch (const dnnl::error&) {
  }
  return it->second;
}

}  // namespace

// The blocked copy with the reorder that fills it from the row-major one, on the weight's
// own engine and stream (whichever thread sets the weight next runs them).
struct Bf16Weight::Blocked {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::memory::desc desc;
  std::unique_ptr<void, FreeBytes> data;
  dnnl::reorder reorder;
};

void Bf16Weight::set(const float* src, int k, int n) {
  RNNB_ASSERT(k > 0 && n > 0);
  // Set before the reorder is made (it keeps its thread count): an OpenMP team started
  // here would spin beside the lanes.
  use_single_threaded_onednn();
  if (k != k_ || n != n_) {
    k_ = n_ = 0;
    blocked_.reset();
    if (const std::optional<dnnl::memory::desc> layout = blocked_layout(k, n)) {
      auto blocked = std::make_unique<Blocked>();
      blocked->desc = *layout;
      const size_t bytes = (layout->get_size() + 63) / 64 * 64;
      blocked->data.reset(std::aligned_alloc(64, bytes));
      if (!blocked->data) fail("bf16: out of memory for a " + std::to_string(k) + "x" + std::to_string(n) + " weight");
      const dnnl::memory::desc rows({k, n}, dt::bf16, {n, 1});
      blocked->reorder =
          dnnl::reorder(dnnl::reorder::primitive_desc(blocked->engine, rows, blocked->engine, *layout));
      blocked_ = std::move(blocked);
    }
  }
  to_bf16(src, static_cast<size_t>(k) * n, rows_);
  if (blocked_) {
    try {
      dnnl::memory from({{k, n}, dt::bf16, {n, 1}}, blocked_->engine, rows_.data());
      dnnl::memory to(blocked_->desc, blocked_->engine, blocked_->data.get());
      blocked_->reorder.execute(blocked_->stream, from, to);
      blocked_->stream.wait();
    } catch (...) {
      blocked_.reset();  // never read a copy that was not written
      throw;
    }
  }
  k_ = k;
  n_ = n;
}

const void* Bf16Weight::blocked() const { return blocked_ ? blocked_->data.get() : nullptr; }

namespace {
struct Key {
  int m, n, k, lda, ldb, ldc;  // ldb 0: B in a weight's blocked layout
  bool accumulate, a_transposed;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& key) const {
    size_t h = 0;
    for (int v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc, static_cast<int>(key.accumulate),
                  static_cast<int>(key.a_transposed)})
      h = h * 1000003u ^ static_cast<size_t>(v);
    return h;
  }
};
}  // namespace

struct Bf16Matmul::Impl {
  // A primitive with its memory objects, whose data handles are set per call, so a call
  // allocates nothing. b_rows: B is read row-major (a weight whose blocked layout the
  // primitive would not take falls back to its row-major copy).
  struct Entry {
    dnnl::matmul primitive;
    dnnl::memory a, b, c, scratchpad;
    bool b_rows = true;
  };
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<Key, Entry, KeyHash> primitives;
  std::vector<Bf16> a16;
  std::vector<uint8_t> scratch;  // the primitives' scratchpad, shared (one call at a time)

  // a_transposed: A is stored [k x m] with row stride lda.
  Entry make_entry(int m, int n, int k, int lda, bool a_transposed, const dnnl::memory::desc& b_desc,
                   bool accumulate, int ldc) {
    const dnnl::memory::desc a_desc({m, k}, dt::bf16,
                                    a_transposed ? dnnl::memory::dims{1, lda} : dnnl::memory::dims{lda, 1});
    const dnnl::memory::desc c_desc({m, n}, dt::f32, {ldc, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_desc, b_desc, c_desc), attr, engine);
    const dnnl::memory::desc scratch_desc = pd.scratchpad_desc();
    if (scratch.size() < scratch_desc.get_size()) scratch.resize(scratch_desc.get_size());
    return Entry{dnnl::matmul(pd), dnnl::memory(a_desc, engine, DNNL_MEMORY_NONE),
                 dnnl::memory(b_desc, engine, DNNL_MEMORY_NONE), dnnl::memory(c_desc, engine, DNNL_MEMORY_NONE),
                 dnnl::memory(scratch_desc, engine, DNNL_MEMORY_NONE)};
  }

  // C[m x n] (+)= A[m x k] B[k x n] (A^T B with A [k x m]: a_transposed); A and B bf16 with
  // row strides lda, ldb; C fp32.
  void run(bool a_transposed, int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, bool accumulate,
           float* c, int ldc) {
    const Key key{m, n, k, lda, ldb, ldc, accumulate, a_transposed};
    auto it = primitives.find(key);
    if (it == primitives.end())
      it = primitives
               .emplace(key, make_entry(m, n, k, lda, a_transposed, {{k, n}, dt::bf16, {ldb, 1}}, accumulate, ldc))
               .first;
    execute(it->second, a, b, c);
  }

  // The same with B a weight, read in its blocked layout where it has one.
  void run(int m, const Bf16* a, int lda, const Bf16Weight& w, bool accumulate, float* c, int ldc) {
    const int n = w.n(), k = w.k();
    if (!w.blocked()) return run(false, m, n, k, a, lda, w.rows(), n, accumulate, c, ldc);
    const Key key{m, n, k, lda, 0, ldc, accumulate, false};
    auto it = primitives.find(key);
    if (it == primitives.end()) {
      Entry entry;
      try {
        entry = make_entry(m, n, k, lda, false, w.blocked_->desc, accumulate, ldc);
        entry.b_rows = false;
      } catch (const dnnl::error&) {
        entry = make_entry(m, n, k, lda, false, {{k, n}, dt::bf16, {n, 1}}, accumulate, ldc);
      }
      it = primitives.emplace(key, std::move(entry)).first;
    }
    execute(it->second, a, it->second.b_rows ? w.rows() : w.blocked(), c);
  }

  void execute(Entry& e, const Bf16* a, const void* b, float* c) {
    e.a.set_data_handle(const_cast<Bf16*>(a));
    e.b.set_data_handle(const_cast<void*>(b));
    e.c.set_data_handle(c);
    e.scratchpad.set_data_handle(scratch.data());
    e.primitive.execute(stream, {{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c},
                                 {DNNL_ARG_SCRATCHPAD, e.scratchpad}});
    stream.wait();
  }
};

Bf16Matmul::Bf16Matmul() : impl_(std::make_unique<Impl>()) {}
Bf16Matmul::~Bf16Matmul() = default;

void Bf16Matmul::matmul(int m, int n, int k, const float* a, int lda, const Bf16* b, int ldb, float beta, float* c,
                        int ldc) {
  if (m <= 0 || n <= 0) return;
  impl_->a16.resize(static_cast<size_t>(m) * k);
  for (int r = 0; r < m; ++r) convert_row(a + static_cast<size_t>(r) * lda, k, impl_->a16.data() + static_cast<size_t>(r) * k);
  matmul(m, n, k, impl_->a16.data(), k, b, ldb, beta, c, ldc);
}

void Bf16Matmul::matmul(int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, float beta, float* c,
                        int ldc) {
  if (m <= 0 || n <= 0) return;
  RNNB_ASSERT(k > 0 && (beta == 0.0f || beta == 1.0f));
  use_single_threaded_onednn();
  impl_->run(false, m, n, k, a, lda, b, ldb, beta != 0.0f, c, ldc);
}

void Bf16Matmul::matmul_at(int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, float beta, float* c,
                           int ldc) {
  if (m <= 0 || n <= 0) return;
  RNNB_ASSERT(k > 0 && (beta == 0.0f || beta == 1.0f));
  use_single_threaded_onednn();
  impl_->run(true, m, n, k, a, lda, b, ldb, beta != 0.0f, c, ldc);
}

void Bf16Matmul::matmul(int m, const float* a, int lda, const Bf16Weight& w, float beta, float* c, int ldc) {
  if (m <= 0) return;
  const int k = w.k();
  impl_->a16.resize(static_cast<size_t>(m) * k);
  for (int r = 0; r < m; ++r)
    convert_row(a + static_cast<size_t>(r) * lda, k, impl_->a16.data() + static_cast<size_t>(r) * k);
  matmul(m, impl_->a16.data(), k, w, beta, c, ldc);
}

void Bf16Matmul::matmul(int m, const Bf16* a, int lda, const Bf16Weight& w, float beta, float* c, int ldc) {
  if (m <= 0) return;
  RNNB_ASSERT(w.k() > 0 && (beta == 0.0f || beta == 1.0f));
  use_single_threaded_onednn();
  impl_->run(m, a, lda, w, beta != 0.0f, c, ldc);
}

namespace {
// Whether oneDNN has a bf16 matmul for this CPU (it needs AVX-512), and which: probed once
// by building one.
struct Probe {
  bool ok = false;
  std::string implementation;
};
const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    try {
      const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
      const dnnl::memory::desc a({16, 16}, dt::bf16, {16, 1}), c({16, 16}, dt::f32, {16, 1});
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), engine);
      p.implementation = pd.impl_info_str();
      p.ok = true;
    } catch (const dnnl::error&) {
    }
    return p;
  }();
  return result;
}
}  // namespace

bool bf16_matmul_available() { return probe().ok; }
std::string bf16_unavailable_reason() {
  return probe().ok ? std::string() : "--math bf16 on the CPU: oneDNN has no bf16 matrix product for this CPU (it needs AVX-512)";
}
std::string bf16_matmul_library() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         (probe().ok ? " (" + probe().implementation + ")" : " (no bf16 on this CPU)");
}

#else  // no oneDNN

struct Bf16Weight::Blocked {};
void Bf16Weight::set(const float* src, int k, int n) {
  k_ = k;
  n_ = n;
  to_bf16(src, static_cast<size_t>(k) * n, rows_);
}
const void* Bf16Weight::blocked() const { return nullptr; }

struct Bf16Matmul::Impl {};
Bf16Matmul::Bf16Matmul() { fail(bf16_unavailable_reason()); }
Bf16Matmul::~Bf16Matmul() = default;
void Bf16Matmul::matmul(int, int, int, const float*, int, const Bf16*, int, float, float*, int) {
  fail(bf16_unavailable_reason());
}
void Bf16Matmul::matmul(int, int, int, const Bf16*, int, const Bf16*, int, float, float*, int) {
  fail(bf16_unavailable_reason());
}
void Bf16Matmul::matmul_at(int, int, int, const Bf16*, int, const Bf16*, int, float, float*, int) {
  fail(bf16_unavailable_reason());
}
void Bf16Matmul::matmul(int, const float*, int, const Bf16Weight&, float, float*, int) {
  fail(bf16_unavailable_reason());
}
void Bf16Matmul::matmul(int, const Bf16*, int, const Bf16Weight&, float, float*, int) {
  fail(bf16_unavailable_reason());
}
bool bf16_matmul_available() { return false; }
std::string bf16_unavailable_reason() {
  return "--math bf16 on the CPU needs oneDNN, and this build has none (install libdnnl-dev and rebuild)";
}
std::string bf16_matmul_library() { return {}; }

#endif

// Defined here, where Blocked is complete in either build.
Bf16Weight::Bf16Weight() = default;
Bf16Weight::~Bf16Weight() = default;
Bf16Weight::Bf16Weight(Bf16Weight&&) noexcept = default;
Bf16Weight& Bf16Weight::operator=(Bf16Weight&&) noexcept = default;

}  // namespace rnnb

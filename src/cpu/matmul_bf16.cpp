// bf16 products on oneDNN (cpu/matmul_bf16.h). A primitive is built once per shape and
// lane (building one JIT-compiles its kernel); A is converted into bf16 scratch per call.
#include "cpu/matmul_bf16.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_map>

#include "cpu/matmul.h"
#include "util/error.h"

#ifdef RNNB_WITH_ONEDNN
#include <dnnl.hpp>
#endif

namespace rnnb {
namespace {

// Branch-free, so that the loops over rows vectorise.
inline Bf16 round_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40u;
  return static_cast<Bf16>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

// Skylake-AVX512 (AVX512-BW) for the 16-bit stores: AVX-512 foundation alone leaves the
// loop scalar.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#endif
void convert_row(const float* __restrict src, int n, Bf16* __restrict dst) {
  for (int i = 0; i < n; ++i) dst[i] = round_to_bf16(src[i]);
}

}  // namespace

void to_bf16(const float* src, size_t n, std::vector<Bf16>& dst) {
  dst.resize(n);
  for (size_t i = 0; i < n; i += 1 << 20)
    convert_row(src + i, static_cast<int>(std::min<size_t>(n - i, 1 << 20)), dst.data() + i);
}

float from_bf16(Bf16 v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

#ifdef RNNB_WITH_ONEDNN

namespace {
struct Key {
  int m, n, k, lda, ldb, ldc;
  bool accumulate;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& key) const {
    size_t h = 0;
    for (int v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc, static_cast<int>(key.accumulate)})
      h = h * 1000003u ^ static_cast<size_t>(v);
    return h;
  }
};
}  // namespace

struct Bf16Matmul::Impl {
  // A primitive with its memory objects, whose data handles are set per call, so a call
  // allocates nothing.
  struct Entry {
    dnnl::matmul primitive;
    dnnl::memory a, b, c, scratchpad;
  };
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<Key, Entry, KeyHash> primitives;
  std::vector<Bf16> a16;
  std::vector<uint8_t> scratch;  // the primitives' scratchpad, shared (one call at a time)

  // C[m x n] (+)= A[m x k] B[k x n]; A and B bf16 with row strides lda, ldb; C fp32.
  void run(int m, int n, int k, const Bf16* a, int lda, const Bf16* b, int ldb, bool accumulate, float* c,
           int ldc) {
    using dt = dnnl::memory::data_type;
    const Key key{m, n, k, lda, ldb, ldc, accumulate};
    auto it = primitives.find(key);
    if (it == primitives.end()) {
      const dnnl::memory::desc a_desc({m, k}, dt::bf16, {lda, 1});
      const dnnl::memory::desc b_desc({k, n}, dt::bf16, {ldb, 1});
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
      Entry entry{dnnl::matmul(pd), dnnl::memory(a_desc, engine, DNNL_MEMORY_NONE),
                  dnnl::memory(b_desc, engine, DNNL_MEMORY_NONE), dnnl::memory(c_desc, engine, DNNL_MEMORY_NONE),
                  dnnl::memory(scratch_desc, engine, DNNL_MEMORY_NONE)};
      it = primitives.emplace(key, std::move(entry)).first;
    }
    Entry& e = it->second;
    e.a.set_data_handle(const_cast<Bf16*>(a));
    e.b.set_data_handle(const_cast<Bf16*>(b));
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
  impl_->run(m, n, k, a, lda, b, ldb, beta != 0.0f, c, ldc);
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
      using dt = dnnl::memory::data_type;
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

struct Bf16Matmul::Impl {};
Bf16Matmul::Bf16Matmul() { fail(bf16_unavailable_reason()); }
Bf16Matmul::~Bf16Matmul() = default;
void Bf16Matmul::matmul(int, int, int, const float*, int, const Bf16*, int, float, float*, int) {
  fail(bf16_unavailable_reason());
}
void Bf16Matmul::matmul(int, int, int, const Bf16*, int, const Bf16*, int, float, float*, int) {
  fail(bf16_unavailable_reason());
}
bool bf16_matmul_available() { return false; }
std::string bf16_unavailable_reason() {
  return "--math bf16 on the CPU needs oneDNN, and this build has none (install libdnnl-dev and rebuild)";
}
std::string bf16_matmul_library() { return {}; }

#endif

}  // namespace rnnb

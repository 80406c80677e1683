// The CPU stack's parallel and reduced-precision machinery: the thread team, the product
// against a plain triple loop, the recurrence split between lanes against one lane,
// bf16 products against fp32 within stated bounds, and denormal flushing.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/float_env.h"
#include "cpu/matmul.h"
#include "cpu/matmul_bf16.h"
#include "cpu/rnn_cpu.h"
#include "cpu/thread_team.h"
#include "support/gradient_check.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

using test::Vec;
using test::max_error;
using test::random_vec;

TEST(ThreadTeam, RunsEveryLaneOnceAndRethrows) {
  for (int threads : {1, 2, 3}) {
    ThreadTeam team(threads);
    ASSERT_EQ(team.size(), threads);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> hits(threads);
      team.run([&](int lane) { hits[lane].fetch_add(1); });
      for (int lane = 0; lane < threads; ++lane) ASSERT_EQ(hits[lane].load(), 1) << "lane " << lane;
    }
    EXPECT_THROW(team.run([&](int lane) {
      if (lane == threads - 1) throw std::runtime_error("lane failed");
    }),
                 std::runtime_error);
    EXPECT_THROW(team.run([&](int) { throw std::runtime_error("every lane failed"); }), std::runtime_error);
    std::atomic<int> after{0};
    team.run([&](int) { after.fetch_add(1); });  // usable, and clean, after failed runs
    EXPECT_EQ(after.load(), threads);
  }
  EXPECT_THROW(ThreadTeam(-1), Error);
}

TEST(ThreadTeam, SplitCoversTheRangeInOrder) {
  for (int lanes : {1, 2, 3, 7})
    for (int64_t count : {0, 1, 5, 768}) {
      int64_t expected_begin = 0;
      for (int lane = 0; lane < lanes; ++lane) {
        int64_t begin, end;
        ThreadTeam::split(count, lane, lanes, &begin, &end);
        EXPECT_EQ(begin, expected_begin);
        EXPECT_LE(end - begin, count / lanes + 1);
        expected_begin = end;
      }
      EXPECT_EQ(expected_begin, count);
    }
}

// The default keeps one library for every product where the kernels have AVX-512; without
// it the 1024-wide products move to OpenBLAS. RNNB_CPU_GEMM puts every product on the one named.
TEST(CpuMatmul, ChoosesOpenBlasForWideProductsOnlyWithoutAvx512) {
  const FloatLibraryChoice with = choose_float_libraries("", true), without = choose_float_libraries("", false);
  EXPECT_EQ(with.for_width(768), with.for_width(4096));
  EXPECT_EQ(without.for_width(768), with.for_width(768));
  EXPECT_EQ(without.for_width(FloatLibraryChoice::wide_from - 1), with.for_width(768));
  EXPECT_EQ(without.for_width(FloatLibraryChoice::wide_from), FloatLibrary::OpenBlas);
  const FloatLibraryChoice openblas = choose_float_libraries("openblas", true);
  EXPECT_EQ(openblas.for_width(1), FloatLibrary::OpenBlas);
  EXPECT_EQ(openblas.for_width(4096), FloatLibrary::OpenBlas);
#ifdef RNNB_WITH_ONEDNN
  const FloatLibraryChoice onednn = choose_float_libraries("onednn", false);
  EXPECT_EQ(onednn.for_width(1), FloatLibrary::OneDnn);
  EXPECT_EQ(onednn.for_width(4096), FloatLibrary::OneDnn);
#endif
  EXPECT_THROW(choose_float_libraries("mkl", true), Error);
}

// C = A B + C on shapes from a single row to the stack's widths, with row strides wider
// than the rows, against a double triple loop.
TEST(CpuMatmul, MatchesTheDefinition) {
  Rng rng(5);
  for (const auto& [m, n, k] : {std::array<int, 3>{37, 19, 300}, {1, 768, 256}, {64, 5, 129}, {9, 1024, 70}}) {
    const int lda = k + 3, ldb = n + 1, ldc = n + 2;
    Vec a = random_vec(static_cast<size_t>(m) * lda, rng), b = random_vec(static_cast<size_t>(k) * ldb, rng);
    Vec c0 = random_vec(static_cast<size_t>(m) * ldc, rng);
    std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(c0.begin(), c0.end());
    matmul(m, n, k, af.data(), lda, bf.data(), ldb, 1.0f, cf.data(), ldc);
    Vec want = c0;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; ++p) want[i * ldc + j] += a[i * lda + p] * b[p * ldb + j];
    EXPECT_LT(max_error(Vec(cf.begin(), cf.end()), want), 1e-5) << m << "x" << n << "x" << k;

    // beta 0 never reads C (the stack leaves it uninitialised).
    std::vector<float> fresh(cf.size(), std::nanf(""));
    matmul(m, n, k, af.data(), lda, bf.data(), ldb, 0.0f, fresh.data(), ldc);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        ASSERT_NEAR(fresh[i * ldc + j], want[i * ldc + j] - c0[i * ldc + j], 1e-4) << i << "," << j;
  }
  // Empty products write nothing, or zeros with beta 0 and k = 0.
  std::vector<float> c(4, 7.0f);
  matmul(0, 2, 3, nullptr, 3, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, std::vector<float>(4, 7.0f));
  matmul(2, 2, 0, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, std::vector<float>(4, 0.0f));
}

// Forward and backward of one batch; every output and input gradient is loss-carrying.
template <typename T>
void run_stack(CpuRnn<T>& rnn, const std::vector<T>& w, const std::vector<T>& x, const std::vector<int>& batch_sizes,
               size_t tokens, std::vector<T>* out) {
  const RnnShape& s = rnn.shape();
  const size_t states = static_cast<size_t>(s.layers) * s.dirs * batch_sizes[0] * s.hidden;
  std::vector<T> y(tokens * s.output()), hy(states), cy(states), dx(x.size()), dw(w.size(), T(0));
  Rng rng(3);
  rnn.forward(w.data(), x.data(), batch_sizes, y.data(), hy.data(), s.cell == Cell::Lstm ? cy.data() : nullptr, true,
              &rng);
  // dy = y, dhy = hy: the gradient of (|y|^2 + |hy|^2) / 2.
  rnn.backward(w.data(), y.data(), hy.data(), s.cell == Cell::Lstm ? cy.data() : nullptr, dx.data(), dw.data());
  out[0] = y, out[1] = hy, out[2] = dx, out[3] = dw;
}

// Sequences of every length pattern the split must handle: a lane with no rows at the
// longest steps, rows that end at different steps, and a padded batch.
// A lane's step wider than the backward chunk (300 rows over 2-3 lanes) too.
const std::vector<std::vector<int>> kBatchSizes = {{7, 5, 5, 2, 1, 1}, {3, 3, 3}, {1, 1}, {300, 300, 120, 7}};

// A^T B, the weight gradients' form, in float and in double (the gradient tests'
// precision), with A stored [k x m] and padded rows.
TEST(CpuMatmul, TransposedAMatchesTheDefinition) {
  Rng rng(6);
  for (const auto& [m, n, k] : {std::array<int, 3>{128, 768, 96}, {256, 768, 7}, {37, 19, 300}, {1, 5, 1}}) {
    const int lda = m + 3, ldb = n + 1, ldc = n + 2;
    const Vec a = random_vec(static_cast<size_t>(k) * lda, rng), b = random_vec(static_cast<size_t>(k) * ldb, rng);
    const Vec c0 = random_vec(static_cast<size_t>(m) * ldc, rng);
    Vec want = c0;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        for (int p = 0; p < k; ++p) want[i * ldc + j] += a[p * lda + i] * b[p * ldb + j];
    std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(c0.begin(), c0.end());
    matmul_at(m, n, k, af.data(), lda, bf.data(), ldb, 1.0f, cf.data(), ldc);
    EXPECT_LT(max_error(Vec(cf.begin(), cf.end()), want), 1e-5 * k) << m << "x" << n << "x" << k;
    Vec cd = c0;
    matmul_at(m, n, k, a.data(), lda, b.data(), ldb, 1.0, cd.data(), ldc);
    EXPECT_LT(max_error(cd, want), 1e-12 * k) << m << "x" << n << "x" << k;
    std::vector<float> fresh(cf.size(), std::nanf(""));  // beta 0 never reads C
    matmul_at(m, n, k, af.data(), lda, bf.data(), ldb, 0.0f, fresh.data(), ldc);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) ASSERT_NEAR(fresh[i * ldc + j], want[i * ldc + j] - c0[i * ldc + j], 1e-4 * k);
  }
}

TEST(CpuRnnLanes, SplitMatchesOneLane) {
  for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm})
    for (const std::vector<int>& batch_sizes : kBatchSizes)
      for (int threads : {2, 3}) {
        SCOPED_TRACE(std::string(enum_name(cell)) + " threads " + std::to_string(threads));
        const RnnShape shape{cell, 5, 6, 2, 2};
        size_t tokens = 0;
        for (int b : batch_sizes) tokens += b;
        Rng rng(11);
        const Vec w = random_vec(shape.weight_count(), rng, 0.5), x = random_vec(tokens * shape.input, rng);
        ThreadTeam team(threads);
        CpuRnn<double> one(shape, 0.3f), split(shape, 0.3f, CpuRnnOptions{&team, false});
        Vec a[4], b[4];
        run_stack(one, w, x, batch_sizes, tokens, a);
        run_stack(split, w, x, batch_sizes, tokens, b);
        for (int i = 0; i < 2; ++i) EXPECT_EQ(a[i], b[i]) << "output " << i;  // no sum changes order
        // dx = dG W over a lane's chunk: some BLAS kernels sum a row differently with the
        // product's row count. The per-lane weight-gradient sums change order.
        EXPECT_LT(max_error(a[2], b[2]), 1e-13);
        EXPECT_LT(max_error(a[3], b[3]), 1e-13);

        // Float: per-lane products of other row counts, which some kernels sum in another
        // order; the same results to rounding, which two layers of relu and dropout spread.
        const std::vector<float> wf(w.begin(), w.end()), xf(x.begin(), x.end());
        CpuRnn<float> one_f(shape, 0.3f), split_f(shape, 0.3f, CpuRnnOptions{&team, false});
        std::vector<float> fa[4], fb[4];
        run_stack(one_f, wf, xf, batch_sizes, tokens, fa);
        run_stack(split_f, wf, xf, batch_sizes, tokens, fb);
        for (int i = 0; i < 4; ++i)
          EXPECT_LT(max_error(Vec(fa[i].begin(), fa[i].end()), Vec(fb[i].begin(), fb[i].end())), 3e-5) << i;
      }
}

// bf16 products against fp32 at the default model's widths on one IMDB-like batch: bf16
// keeps 8 significant bits, and the error grows with the sequence through the state.
TEST(CpuRnnBf16, StaysWithinBoundsOfFp32) {
  if (!bf16_matmul_available()) {
    EXPECT_THROW(CpuRnn<float>(RnnShape{Cell::Gru, 4, 4, 1, 1}, 0.0f, CpuRnnOptions{nullptr, true}), Error);
    GTEST_SKIP() << bf16_unavailable_reason();
  }
  for (Cell cell : {Cell::RnnTanh, Cell::Gru, Cell::Lstm}) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape shape{cell, 128, 256, 1, 1};
    std::vector<int> batch_sizes;
    for (int t = 0; t < 60; ++t) batch_sizes.push_back(t < 20 ? 16 : t < 40 ? 9 : 3);
    size_t tokens = 0;
    for (int b : batch_sizes) tokens += b;
    Rng rng(21);
    const float bound = 1.0f / std::sqrt(256.0f);  // PyTorch's and the trainer's initialisation
    auto uniform = [&](size_t n, float scale) {
      std::vector<float> v(n);
      for (float& e : v) e = rng.uniform(-scale, scale);
      return v;
    };
    const std::vector<float> w = uniform(shape.weight_count(), bound), x = uniform(tokens * shape.input, 1.0f);
    ThreadTeam team(2);
    CpuRnn<float> fp32(shape, 0.0f, CpuRnnOptions{&team, false}), bf16(shape, 0.0f, CpuRnnOptions{&team, true});
    std::vector<float> a[4], b[4];
    run_stack(fp32, w, x, batch_sizes, tokens, a);
    run_stack(bf16, w, x, batch_sizes, tokens, b);
    auto rel = [](const std::vector<float>& got, const std::vector<float>& want) {
      double diff = 0.0, norm = 0.0;
      for (size_t i = 0; i < got.size(); ++i) {
        diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
        norm += double(want[i]) * want[i];
      }
      return std::sqrt(diff / norm);
    };
    EXPECT_LT(rel(b[0], a[0]), 1e-2) << "outputs";
    EXPECT_LT(rel(b[2], a[2]), 3e-2) << "input gradient";
    EXPECT_LT(rel(b[3], a[3]), 3e-2) << "weight gradient";
    EXPECT_GT(rel(b[0], a[0]), 0.0) << "bf16 rounding must show";
  }
}

// A product with a weight (read in oneDNN's blocked layout where it has one) against the
// exact product of the bf16-rounded operands: only fp32 accumulation may differ. Setting
// new values of the same shape must reach the blocked copy too.
TEST(CpuRnnBf16, WeightProductsMatchTheRoundedOperands) {
  if (!bf16_matmul_available()) GTEST_SKIP() << bf16_unavailable_reason();
  Rng rng(5);
  auto uniform = [&](size_t n) {
    std::vector<float> v(n);
    for (float& e : v) e = rng.uniform(-1.0f, 1.0f);
    return v;
  };
  auto rounded = [](const std::vector<float>& v) {
    std::vector<Bf16> r;
    to_bf16(v.data(), v.size(), r);
    std::vector<double> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = from_bf16(r[i]);
    return out;
  };
  Bf16Matmul lane;
  for (const auto [k, n] : {std::array{256, 768}, std::array{128, 1024}, std::array{40, 24}}) {
    Bf16Weight weight;
    for (int update = 0; update < 2; ++update) {
      const std::vector<float> b = uniform(static_cast<size_t>(k) * n);
      weight.set(b.data(), k, n);
      ASSERT_EQ(weight.k(), k);
      ASSERT_EQ(weight.n(), n);
      const std::vector<double> b_exact = rounded(b);
      for (int m : {1, 16, 33, 128}) {
        for (float beta : {0.0f, 1.0f}) {
          SCOPED_TRACE("k " + std::to_string(k) + " n " + std::to_string(n) + " m " + std::to_string(m) + " beta " +
                       std::to_string(beta) + " update " + std::to_string(update));
          const int lda = k + 3, ldc = n + 5;  // strided rows, as the stack passes them
          const std::vector<float> a = uniform(static_cast<size_t>(m) * lda);
          std::vector<float> c = uniform(static_cast<size_t>(m) * ldc);
          const std::vector<float> c0 = c;
          const std::vector<double> a_exact = rounded(a);
          lane.matmul(m, a.data(), lda, weight, beta, c.data(), ldc);
          double worst = 0.0;
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              double want = beta * c0[static_cast<size_t>(i) * ldc + j];
              for (int p = 0; p < k; ++p)
                want += a_exact[static_cast<size_t>(i) * lda + p] * b_exact[static_cast<size_t>(p) * n + j];
              worst = std::max(worst, std::abs(c[static_cast<size_t>(i) * ldc + j] - want));
            }
          EXPECT_LT(worst, 1e-4 * k) << "fp32 accumulation of |a b| <= 1 terms";
          for (int i = 0; i < m; ++i)  // the padding between rows stays as it was
            for (int j = n; j < ldc; ++j)
              EXPECT_EQ(c[static_cast<size_t>(i) * ldc + j], c0[static_cast<size_t>(i) * ldc + j]);
        }
      }
    }
  }
}

// A^T B on bf16 operands (the weight gradients, A the chunk's rows), against the exact
// product of the same operands.
TEST(CpuRnnBf16, TransposedProductsMatchTheOperands) {
  if (!bf16_matmul_available()) GTEST_SKIP() << bf16_unavailable_reason();
  Rng rng(7);
  Bf16Matmul lane;
  for (const auto& [m, n, k] : {std::array<int, 3>{128, 768, 96}, {256, 768, 33}, {40, 24, 1}}) {
    for (float beta : {0.0f, 1.0f}) {
      SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " beta " +
                   std::to_string(beta));
      const int lda = m + 2, ldb = n, ldc = n + 5;
      std::vector<float> af(static_cast<size_t>(k) * lda), bf(static_cast<size_t>(k) * ldb);
      for (float& e : af) e = rng.uniform(-1.0f, 1.0f);
      for (float& e : bf) e = rng.uniform(-1.0f, 1.0f);
      std::vector<Bf16> a16, b16;
      to_bf16(af.data(), af.size(), a16);
      to_bf16(bf.data(), bf.size(), b16);
      std::vector<float> c(static_cast<size_t>(m) * ldc);
      for (float& e : c) e = rng.uniform(-1.0f, 1.0f);
      const std::vector<float> c0 = c;
      lane.matmul_at(m, n, k, a16.data(), lda, b16.data(), ldb, beta, c.data(), ldc);
      double worst = 0.0;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double want = beta * c0[static_cast<size_t>(i) * ldc + j];
          for (int p = 0; p < k; ++p)
            want += static_cast<double>(from_bf16(a16[static_cast<size_t>(p) * lda + i])) *
                    from_bf16(b16[static_cast<size_t>(p) * ldb + j]);
          worst = std::max(worst, std::abs(c[static_cast<size_t>(i) * ldc + j] - want));
        }
      EXPECT_LT(worst, 1e-4 * k) << "fp32 accumulation of |a b| <= 1 terms";
    }
  }
}

TEST(CpuRnnBf16, RoundsToNearestEven) {
  std::vector<Bf16> out;
  const float in[] = {1.0f, 1.00390625f, 1.01171875f, -2.5f, std::nanf("")};
  to_bf16(in, 5, out);
  EXPECT_EQ(from_bf16(out[0]), 1.0f);
  EXPECT_EQ(from_bf16(out[1]), 1.0f);         // halfway, rounds to the even mantissa
  EXPECT_EQ(from_bf16(out[2]), 1.015625f);    // halfway, rounds up to even
  EXPECT_EQ(from_bf16(out[3]), -2.5f);
  EXPECT_TRUE(std::isnan(from_bf16(out[4])));
}

// Every CPU rounds alike, whether it converts with AVX512-BF16's instruction or in portable
// code: both checked bit for bit against the rule (the instruction where the CPU has it),
// over special values and random bit patterns, at lengths that leave every loop tail.
TEST(CpuRnnBf16, ConversionFollowsTheRuleBitForBit) {
  auto rule = [](uint32_t bits) -> Bf16 {
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return static_cast<Bf16>((bits >> 16) | 0x40u);  // quiet NaN
    if (magnitude < 0x00800000u) return static_cast<Bf16>((bits >> 16) & 0x8000u);  // signed zero
    return static_cast<Bf16>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  };
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00800000u, 0x7f7fffffu,
                                0x7f800000u, 0xff800000u, 0x7f800001u, 0xffc00000u, 0x3f808000u, 0x3f818000u,
                                0x3f80ffffu, 0x7f7f8000u};
  Rng rng(11);
  while (bits.size() < 4096) bits.push_back(static_cast<uint32_t>(rng.next_u64()));
  for (size_t n : {size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{31}, size_t{33}, bits.size()}) {
    std::vector<float> in(n);
    std::memcpy(in.data(), bits.data(), n * sizeof(float));
    std::vector<Bf16> out, portable(n);
    to_bf16(in.data(), n, out);
    to_bf16_portable(in.data(), n, portable.data());
    ASSERT_EQ(out.size(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], rule(bits[i])) << "bits 0x" << std::hex << bits[i];
      ASSERT_EQ(portable[i], rule(bits[i])) << "portable, bits 0x" << std::hex << bits[i];
    }
  }
}

TEST(FlushDenormals, FlushesInsideTheScopeOnly) {
  volatile float tiny = 1e-38f, factor = 1e-3f;
  {
    const FlushDenormals flush;
    EXPECT_EQ(tiny * factor, 0.0f);
  }
#if defined(__x86_64__)
  EXPECT_GT(tiny * factor, 0.0f);
#endif
}

}  // namespace
}  // namespace rnnb

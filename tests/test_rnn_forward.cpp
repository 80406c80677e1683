// Forward pass of the CPU recurrent stack: each cell against scalar code written from
// cuDNN's equations, packed batches against sequences run alone, the bidirectional output
// and final-state layout, and float against double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

using Vec = std::vector<double>;

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// One sequence through the whole stack with plain loops, straight from the equations.
struct Reference {
  Vec y;   // [len x dirs*H]
  Vec hy;  // [layers*dirs x H]
  Vec cy;
};

Reference reference_stack(const RnnShape& s, const Vec& w, const Vec& x, int len) {
  const int H = s.hidden;
  const int G = s.gates();
  Reference ref;
  ref.hy.assign(static_cast<size_t>(s.layers) * s.dirs * H, 0.0);
  ref.cy = ref.hy;
  Vec input = x;
  for (int l = 0; l < s.layers; ++l) {
    const int I = s.layer_input(l);
    Vec out(static_cast<size_t>(len) * s.output(), 0.0);
    for (int d = 0; d < s.dirs; ++d) {
      const double* blk = w.data() + s.block_offset(l, d);
      auto Wm = [&](int row, int col) { return blk[s.w_offset(l) + row * I + col]; };
      auto Rm = [&](int row, int col) { return blk[s.r_offset(l) + row * H + col]; };
      auto bW = [&](int row) { return blk[s.bw_offset(l) + row]; };
      auto bR = [&](int row) { return blk[s.br_offset(l) + row]; };
      Vec h(H, 0.0), c(H, 0.0);
      for (int k = 0; k < len; ++k) {
        const int t = d == 0 ? k : len - 1 - k;
        const double* xt = input.data() + static_cast<size_t>(t) * I;
        // wx[g*H+j] = W x + bW, rh[g*H+j] = R h + bR
        Vec wx(static_cast<size_t>(G) * H), rh(static_cast<size_t>(G) * H);
        for (int row = 0; row < G * H; ++row) {
          double a = bW(row), b = bR(row);
          for (int col = 0; col < I; ++col) a += Wm(row, col) * xt[col];
          for (int col = 0; col < H; ++col) b += Rm(row, col) * h[col];
          wx[row] = a;
          rh[row] = b;
        }
        Vec hn(H), cn(H);
        for (int j = 0; j < H; ++j) {
          switch (s.cell) {
            case Cell::RnnTanh: hn[j] = std::tanh(wx[j] + rh[j]); break;
            case Cell::RnnRelu: hn[j] = std::max(0.0, wx[j] + rh[j]); break;
            case Cell::Gru: {
              const double r = sigmoid(wx[j] + rh[j]);
              const double z = sigmoid(wx[H + j] + rh[H + j]);
              const double n = std::tanh(wx[2 * H + j] + r * rh[2 * H + j]);
              hn[j] = (1 - z) * n + z * h[j];
              break;
            }
            case Cell::Lstm: {
              const double i = sigmoid(wx[j] + rh[j]);
              const double f = sigmoid(wx[H + j] + rh[H + j]);
              const double g = std::tanh(wx[2 * H + j] + rh[2 * H + j]);
              const double o = sigmoid(wx[3 * H + j] + rh[3 * H + j]);
              cn[j] = f * c[j] + i * g;
              hn[j] = o * std::tanh(cn[j]);
              break;
            }
          }
        }
        h = hn;
        c = cn;
        for (int j = 0; j < H; ++j) out[static_cast<size_t>(t) * s.output() + d * H + j] = h[j];
      }
      for (int j = 0; j < H; ++j) {
        ref.hy[static_cast<size_t>(l * s.dirs + d) * H + j] = h[j];
        ref.cy[static_cast<size_t>(l * s.dirs + d) * H + j] = c[j];
      }
    }
    input = out;
  }
  ref.y = input;
  return ref;
}

Vec random_vec(size_t n, uint64_t seed, double scale = 0.5) {
  Rng rng(seed);
  Vec v(n);
  for (auto& e : v) e = scale * (2.0 * rng.uniform_double() - 1.0);
  return v;
}

// Packs per-sequence inputs (sorted by decreasing length) time-major.
struct Packed {
  std::vector<int> batch_sizes;
  Vec x;
  std::vector<std::vector<size_t>> row;  // row[b][t]: packed row of token t of sequence b
};

Packed pack(const std::vector<Vec>& seqs, const std::vector<int>& lens, int width) {
  Packed p;
  const int steps = lens[0];
  size_t n = 0;
  p.row.resize(lens.size());
  for (int t = 0; t < steps; ++t) {
    int active = 0;
    for (size_t b = 0; b < lens.size(); ++b) {
      if (lens[b] <= t) continue;
      ++active;
      p.row[b].push_back(n++);
      p.x.insert(p.x.end(), seqs[b].begin() + static_cast<long>(t) * width,
                 seqs[b].begin() + static_cast<long>(t + 1) * width);
    }
    p.batch_sizes.push_back(active);
  }
  return p;
}

struct Outputs {
  Vec y, hy, cy;
};

template <typename T>
Outputs run(const RnnShape& s, const Vec& w, const Vec& x, const std::vector<int>& batch_sizes) {
  size_t n = 0;
  for (int b : batch_sizes) n += b;
  const size_t states = static_cast<size_t>(s.layers) * s.dirs * batch_sizes[0] * s.hidden;
  std::vector<T> wt(w.begin(), w.end()), xt(x.begin(), x.end());
  std::vector<T> y(n * s.output(), T(-7)), hy(states, T(-7)), cy(states, T(-7));
  CpuRnn<T> rnn(s);
  rnn.forward(wt.data(), xt.data(), batch_sizes, y.data(), hy.data(),
              s.cell == Cell::Lstm ? cy.data() : nullptr, false, nullptr);
  return {Vec(y.begin(), y.end()), Vec(hy.begin(), hy.end()), Vec(cy.begin(), cy.end())};
}

const Cell kCells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm};

TEST(RnnForward, TanhRnnMatchesNumbersWorkedByHand) {
  // I = 1, H = 1: W = 0.5, R = -0.8, bW = 0.1, bR = 0.2; x = (1, -2).
  const RnnShape s{Cell::RnnTanh, 1, 1, 1, 1};
  const Vec w{0.5, -0.8, 0.1, 0.2};
  const Vec x{1.0, -2.0};
  const double h1 = std::tanh(0.5 * 1.0 + 0.1 + 0.2);
  const double h2 = std::tanh(0.5 * -2.0 + 0.1 + -0.8 * h1 + 0.2);
  const Outputs out = run<double>(s, w, x, {1, 1});
  EXPECT_NEAR(out.y[0], h1, 1e-15);
  EXPECT_NEAR(out.y[1], h2, 1e-15);
  EXPECT_NEAR(out.hy[0], h2, 1e-15);
}

TEST(RnnForward, GruMatchesNumbersWorkedByHand) {
  // I = 1, H = 1, one step from h = 0: gates r, z, n with weights (Wr, Wz, Wn) = (1, 2, 3),
  // R all 0.5, bW = (0.1, 0.2, 0.3), bR = (-0.1, -0.2, -0.3); x = 0.4.
  const RnnShape s{Cell::Gru, 1, 1, 1, 1};
  const Vec w{1, 2, 3, 0.5, 0.5, 0.5, 0.1, 0.2, 0.3, -0.1, -0.2, -0.3};
  const double r = sigmoid(0.4 + 0.1 - 0.1);
  const double z = sigmoid(0.8 + 0.2 - 0.2);
  const double n = std::tanh(1.2 + 0.3 + r * -0.3);
  const Outputs out = run<double>(s, w, {0.4}, {1});
  EXPECT_NEAR(out.y[0], (1 - z) * n, 1e-15);
}

TEST(RnnForward, LstmMatchesNumbersWorkedByHand) {
  // I = 1, H = 1, one step from c = h = 0: (Wi, Wf, Wg, Wo) = (1, -1, 2, 0.5), R zero,
  // bW = 0.1 each, bR = 0; x = 0.3.
  const RnnShape s{Cell::Lstm, 1, 1, 1, 1};
  const Vec w{1, -1, 2, 0.5, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0, 0, 0, 0};
  const double i = sigmoid(0.3 + 0.1);
  const double g = std::tanh(0.6 + 0.1);
  const double o = sigmoid(0.15 + 0.1);
  const Outputs out = run<double>(s, w, {0.3}, {1});
  EXPECT_NEAR(out.cy[0], i * g, 1e-15);
  EXPECT_NEAR(out.y[0], o * std::tanh(i * g), 1e-15);
  EXPECT_NEAR(out.hy[0], out.y[0], 0.0);
}

TEST(RnnForward, EachCellMatchesScalarEquationsOnSmallCase) {
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape s{cell, 3, 2, 1, 1};
    const Vec w = random_vec(s.weight_count(), 11);
    const Vec x = random_vec(3 * 3, 12, 1.0);
    const Reference ref = reference_stack(s, w, x, 3);
    const Outputs out = run<double>(s, w, x, {1, 1, 1});
    for (size_t i = 0; i < ref.y.size(); ++i) EXPECT_NEAR(out.y[i], ref.y[i], 1e-14) << i;
    for (size_t i = 0; i < ref.hy.size(); ++i) EXPECT_NEAR(out.hy[i], ref.hy[i], 1e-14) << i;
    if (cell == Cell::Lstm) {
      for (size_t i = 0; i < ref.cy.size(); ++i) EXPECT_NEAR(out.cy[i], ref.cy[i], 1e-14) << i;
    }
  }
}

// Every cell, 1-2 layers, 1-2 directions, a packed batch of unequal lengths: each sequence's
// outputs and final states equal the scalar reference run on that sequence alone.
TEST(RnnForward, PackedStackMatchesScalarReferencePerSequence) {
  const std::vector<int> lens{5, 4, 4, 2, 1};
  for (Cell cell : kCells)
    for (int layers : {1, 2})
      for (int dirs : {1, 2}) {
        SCOPED_TRACE(enum_name(cell) + " layers " + std::to_string(layers) + " dirs " +
                     std::to_string(dirs));
        const RnnShape s{cell, 3, 4, layers, dirs};
        const Vec w = random_vec(s.weight_count(), 21 + layers * 2 + dirs);
        std::vector<Vec> seqs;
        for (size_t b = 0; b < lens.size(); ++b)
          seqs.push_back(random_vec(static_cast<size_t>(lens[b]) * 3, 100 + b, 1.0));
        const Packed p = pack(seqs, lens, 3);
        const Outputs out = run<double>(s, w, p.x, p.batch_sizes);
        const int B = static_cast<int>(lens.size());
        const int H = s.hidden;
        for (int b = 0; b < B; ++b) {
          const Reference ref = reference_stack(s, w, seqs[b], lens[b]);
          for (int t = 0; t < lens[b]; ++t)
            for (int j = 0; j < s.output(); ++j)
              ASSERT_NEAR(out.y[p.row[b][t] * s.output() + j], ref.y[t * s.output() + j], 1e-13)
                  << "b " << b << " t " << t << " j " << j;
          for (int blk = 0; blk < layers * dirs; ++blk)
            for (int j = 0; j < H; ++j) {
              ASSERT_NEAR(out.hy[(static_cast<size_t>(blk) * B + b) * H + j],
                          ref.hy[static_cast<size_t>(blk) * H + j], 1e-13);
              if (cell == Cell::Lstm) {
                ASSERT_NEAR(out.cy[(static_cast<size_t>(blk) * B + b) * H + j],
                            ref.cy[static_cast<size_t>(blk) * H + j], 1e-13);
              }
            }
        }
      }
}

// The same, comparing the implementation with itself: packed batch vs batch of one.
TEST(RnnForward, PackedBatchEqualsEachSequenceAlone) {
  const std::vector<int> lens{6, 6, 3, 2, 2, 1};
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape s{cell, 2, 3, 2, 2};
    const Vec w = random_vec(s.weight_count(), 31);
    std::vector<Vec> seqs;
    for (size_t b = 0; b < lens.size(); ++b)
      seqs.push_back(random_vec(static_cast<size_t>(lens[b]) * 2, 200 + b, 1.0));
    const Packed p = pack(seqs, lens, 2);
    const Outputs out = run<double>(s, w, p.x, p.batch_sizes);
    const int B = static_cast<int>(lens.size());
    const int H = s.hidden;
    for (int b = 0; b < B; ++b) {
      const Outputs alone = run<double>(s, w, seqs[b], std::vector<int>(lens[b], 1));
      for (int t = 0; t < lens[b]; ++t)
        for (int j = 0; j < s.output(); ++j)
          EXPECT_NEAR(out.y[p.row[b][t] * s.output() + j], alone.y[t * s.output() + j], 1e-14);
      for (int blk = 0; blk < s.layers * s.dirs; ++blk)
        for (int j = 0; j < H; ++j) {
          EXPECT_NEAR(out.hy[(static_cast<size_t>(blk) * B + b) * H + j],
                      alone.hy[static_cast<size_t>(blk) * H + j], 1e-14);
          if (cell == Cell::Lstm) {
            EXPECT_NEAR(out.cy[(static_cast<size_t>(blk) * B + b) * H + j],
                        alone.cy[static_cast<size_t>(blk) * H + j], 1e-14);
          }
        }
    }
  }
}

// With equal lengths the packed layout is the padded one (every batch_sizes[t] = B): the
// batch still equals each sequence alone, and reordering the batch permutes its rows only.
TEST(RnnForward, PaddedBatchOfEqualLengthsEqualsSequencesAlone) {
  const int B = 3, len = 4;
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape s{cell, 3, 2, 1, 2};
    const Vec w = random_vec(s.weight_count(), 41);
    std::vector<Vec> seqs;
    for (int b = 0; b < B; ++b) seqs.push_back(random_vec(len * 3, 300 + b, 1.0));
    const Packed p = pack(seqs, std::vector<int>(B, len), 3);
    ASSERT_EQ(p.batch_sizes, std::vector<int>(len, B));
    const Outputs out = run<double>(s, w, p.x, p.batch_sizes);
    for (int b = 0; b < B; ++b) {
      const Outputs alone = run<double>(s, w, seqs[b], std::vector<int>(len, 1));
      for (int t = 0; t < len; ++t)
        for (int j = 0; j < s.output(); ++j)
          EXPECT_NEAR(out.y[(static_cast<size_t>(t) * B + b) * s.output() + j],
                      alone.y[static_cast<size_t>(t) * s.output() + j], 1e-14);
    }
    const std::vector<Vec> reversed_order{seqs[2], seqs[1], seqs[0]};
    const Packed q = pack(reversed_order, std::vector<int>(B, len), 3);
    const Outputs swapped = run<double>(s, w, q.x, q.batch_sizes);
    for (int t = 0; t < len; ++t)
      for (int j = 0; j < s.output(); ++j)
        EXPECT_NEAR(swapped.y[(static_cast<size_t>(t) * B + 2) * s.output() + j],
                    out.y[(static_cast<size_t>(t) * B + 0) * s.output() + j], 1e-14);
  }
}

// Final states: forward = output at each sequence's last token (columns [0, H)); reverse =
// output at t = 0 (columns [H, 2H)).
TEST(RnnForward, FinalStatesAreOutputsAtLastAndFirstToken) {
  const std::vector<int> lens{4, 3, 1};
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape s{cell, 2, 3, 1, 2};
    const int H = s.hidden, B = 3;
    const Vec w = random_vec(s.weight_count(), 51);
    std::vector<Vec> seqs;
    for (int b = 0; b < B; ++b) seqs.push_back(random_vec(lens[b] * 2, 400 + b, 1.0));
    const Packed p = pack(seqs, lens, 2);
    const Outputs out = run<double>(s, w, p.x, p.batch_sizes);
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < H; ++j) {
        const size_t last = p.row[b][lens[b] - 1], first = p.row[b][0];
        EXPECT_EQ(out.hy[static_cast<size_t>(b) * H + j], out.y[last * 2 * H + j]);
        EXPECT_EQ(out.hy[(static_cast<size_t>(B) + b) * H + j], out.y[first * 2 * H + H + j]);
      }
  }
}

// A bidirectional layer's y: columns [0, H) are a forward-only run with the forward weights;
// columns [H, 2H) are a forward-only run over the reversed sequence with the reverse weights.
TEST(RnnForward, BidirectionalColumnsAreTwoOneWayRuns) {
  const int len = 5, I = 3, H = 2;
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape bi{cell, I, H, 1, 2};
    const RnnShape uni{cell, I, H, 1, 1};
    const Vec w = random_vec(bi.weight_count(), 61);
    const Vec x = random_vec(len * I, 62, 1.0);
    const Outputs both = run<double>(bi, w, x, std::vector<int>(len, 1));
    const Vec w_fwd(w.begin(), w.begin() + static_cast<long>(bi.block_size(0)));
    const Vec w_rev(w.begin() + static_cast<long>(bi.block_size(0)), w.end());
    Vec x_rev;
    for (int t = len - 1; t >= 0; --t) x_rev.insert(x_rev.end(), x.begin() + t * I, x.begin() + (t + 1) * I);
    const Outputs fwd = run<double>(uni, w_fwd, x, std::vector<int>(len, 1));
    const Outputs rev = run<double>(uni, w_rev, x_rev, std::vector<int>(len, 1));
    for (int t = 0; t < len; ++t)
      for (int j = 0; j < H; ++j) {
        EXPECT_EQ(both.y[t * 2 * H + j], fwd.y[t * H + j]);
        EXPECT_EQ(both.y[t * 2 * H + H + j], rev.y[(len - 1 - t) * H + j]);
      }
    if (cell == Cell::Lstm) {
      for (int j = 0; j < H; ++j) {
        EXPECT_EQ(both.cy[j], fwd.cy[j]);
        EXPECT_EQ(both.cy[H + j], rev.cy[j]);
      }
    }
  }
}

TEST(RnnForward, FloatAgreesWithDouble) {
  const std::vector<int> lens{7, 5, 5, 2};
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const RnnShape s{cell, 4, 6, 2, 2};
    const Vec w = random_vec(s.weight_count(), 71);
    std::vector<Vec> seqs;
    for (size_t b = 0; b < lens.size(); ++b) seqs.push_back(random_vec(lens[b] * 4, 500 + b, 1.0));
    const Packed p = pack(seqs, lens, 4);
    const Outputs d = run<double>(s, w, p.x, p.batch_sizes);
    const Outputs f = run<float>(s, w, p.x, p.batch_sizes);
    for (size_t i = 0; i < d.y.size(); ++i) EXPECT_NEAR(f.y[i], d.y[i], 1e-5) << i;
    for (size_t i = 0; i < d.hy.size(); ++i) EXPECT_NEAR(f.hy[i], d.hy[i], 1e-5) << i;
    if (cell == Cell::Lstm) {
      for (size_t i = 0; i < d.cy.size(); ++i) EXPECT_NEAR(f.cy[i], d.cy[i], 1e-5) << i;
    }
  }
}

// Dropout acts only in training, only between layers, and replays with the same seed.
TEST(RnnForward, DropoutOnlyInTrainingAndReproducible) {
  const RnnShape s{Cell::Gru, 3, 4, 2, 1};
  const Vec w = random_vec(s.weight_count(), 81);
  const Vec x = random_vec(4 * 2 * 3, 82, 1.0);
  const std::vector<int> bs{2, 2, 2, 2};
  const Outputs plain = run<double>(s, w, x, bs);
  CpuRnn<double> rnn(s, 0.5f);
  Vec y(8 * 4), hy(2 * 2 * 4);
  rnn.forward(w.data(), x.data(), bs, y.data(), hy.data(), nullptr, false, nullptr);
  EXPECT_EQ(y, plain.y);
  Rng rng(5);
  rnn.forward(w.data(), x.data(), bs, y.data(), hy.data(), nullptr, true, &rng);
  EXPECT_NE(y, plain.y);
  // Layer 0's final state is before any dropout.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(hy[i], plain.hy[i]);
  Vec y2(y.size()), hy2(hy.size());
  rng.reseed(5);
  rnn.forward(w.data(), x.data(), bs, y2.data(), hy2.data(), nullptr, true, &rng);
  EXPECT_EQ(y2, y);
  // A single layer has no dropout at all.
  const RnnShape one{Cell::Gru, 3, 4, 1, 1};
  CpuRnn<double> single(one, 0.5f);
  const Outputs ref1 = run<double>(one, Vec(w.begin(), w.begin() + static_cast<long>(one.weight_count())), x, bs);
  Vec y1(8 * 4), hy1(2 * 4);
  single.forward(w.data(), x.data(), bs, y1.data(), hy1.data(), nullptr, true, &rng);
  EXPECT_EQ(y1, ref1.y);
}

TEST(RnnForward, RejectsBadArguments) {
  const RnnShape s{Cell::Gru, 2, 2, 1, 1};
  EXPECT_THROW(CpuRnn<double>(s, 1.0f), Error);
  EXPECT_THROW(CpuRnn<double>(RnnShape{Cell::Gru, 2, 2, 1, 3}), Error);
  CpuRnn<double> rnn(s);
  const Vec w(s.weight_count(), 0.1), x(3 * 2, 0.2);
  Vec y(3 * 2), hy(2 * 2), dw(w.size());
  EXPECT_THROW(rnn.forward(w.data(), x.data(), {1, 2}, y.data(), hy.data(), nullptr, false, nullptr),
               Error);
  EXPECT_THROW(rnn.forward(w.data(), x.data(), {}, y.data(), hy.data(), nullptr, false, nullptr),
               Error);
  rnn.forward(w.data(), x.data(), {2, 1}, y.data(), hy.data(), nullptr, false, nullptr);
  EXPECT_THROW(rnn.backward(w.data(), y.data(), nullptr, nullptr, nullptr, dw.data()), Error);
  CpuRnn<double> with_dropout(RnnShape{Cell::Gru, 2, 2, 2, 1}, 0.3f);
  const Vec w2(RnnShape{Cell::Gru, 2, 2, 2, 1}.weight_count(), 0.1);
  EXPECT_THROW(with_dropout.forward(w2.data(), x.data(), {2, 1}, y.data(), hy.data(), nullptr,
                                    true, nullptr),
               Error);
}

}  // namespace
}  // namespace rnnb

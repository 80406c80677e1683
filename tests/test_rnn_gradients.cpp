// Backward pass of the CPU recurrent stack against central finite differences, in double:
// every cell, 1-2 layers, 1-2 directions, packed and padded batches, missing output or
// final-state gradients, and dropout between layers with its masks replayed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "support/gradient_check.h"
#include "util/rng.h"

namespace rnnb {
namespace {

using test::Vec;
using test::dot;
using test::max_error;
using test::random_vec;

struct Problem {
  RnnShape shape;
  float dropout = 0.0f;
  std::vector<int> batch_sizes;
  size_t tokens = 0;
  Vec w, x, gy, ghy, gcy;  // gy / ghy / gcy empty: that term is absent from the loss
  uint64_t dropout_seed = 77;

  size_t states() const {
    return static_cast<size_t>(shape.layers) * shape.dirs * batch_sizes[0] * shape.hidden;
  }

  // L = sum(y * gy) + sum(hy * ghy) + sum(cy * gcy), with the dropout masks replayed.
  double loss(const Vec& weights, const Vec& input) const {
    CpuRnn<double> rnn(shape, dropout);
    Vec y(tokens * shape.output()), hy(states()), cy(states());
    Rng rng(dropout_seed);
    rnn.forward(weights.data(), input.data(), batch_sizes, y.data(), hy.data(),
                shape.cell == Cell::Lstm ? cy.data() : nullptr, true, &rng);
    double l = 0.0;
    if (!gy.empty()) l += dot(y, gy);
    if (!ghy.empty()) l += dot(hy, ghy);
    if (!gcy.empty()) l += dot(cy, gcy);
    return l;
  }

  // Analytic gradients; dw starts at `dw_start` to check that backward adds.
  void gradients(Vec& dw, Vec& dx, double dw_start = 0.0) const {
    CpuRnn<double> rnn(shape, dropout);
    Vec y(tokens * shape.output()), hy(states()), cy(states());
    Rng rng(dropout_seed);
    rnn.forward(w.data(), x.data(), batch_sizes, y.data(), hy.data(),
                shape.cell == Cell::Lstm ? cy.data() : nullptr, true, &rng);
    dw.assign(w.size(), dw_start);
    dx.assign(x.size(), 0.0);
    rnn.backward(w.data(), gy.empty() ? nullptr : gy.data(), ghy.empty() ? nullptr : ghy.data(),
                 gcy.empty() ? nullptr : gcy.data(), dx.data(), dw.data());
  }
};

Problem make_problem(Cell cell, int layers, int dirs, const std::vector<int>& lens,
                     uint64_t seed) {
  Problem p;
  p.shape = RnnShape{cell, 3, 4, layers, dirs};
  if (cell == Cell::Lstm || cell == Cell::Gru) p.shape.hidden = 3;  // fewer weights, same paths
  const int steps = lens[0];
  for (int t = 0; t < steps; ++t) {
    int active = 0;
    for (int len : lens) active += len > t ? 1 : 0;
    p.batch_sizes.push_back(active);
    p.tokens += active;
  }
  Rng rng(seed);
  p.w = random_vec(p.shape.weight_count(), rng, 0.6);
  p.x = random_vec(p.tokens * p.shape.input, rng, 1.0);
  p.gy = random_vec(p.tokens * p.shape.output(), rng, 1.0);
  p.ghy = random_vec(p.states(), rng, 1.0);
  if (cell == Cell::Lstm) p.gcy = random_vec(p.states(), rng, 1.0);
  return p;
}

// Central differences of the loss for every weight and every input element.
void numeric_gradients(const Problem& p, Vec& dw, Vec& dx) {
  const double eps = 1e-6;
  Vec w = p.w, x = p.x;
  dw.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const double keep = w[i];
    w[i] = keep + eps;
    const double up = p.loss(w, x);
    w[i] = keep - eps;
    const double down = p.loss(w, x);
    w[i] = keep;
    dw[i] = (up - down) / (2 * eps);
  }
  dx.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = p.loss(w, x);
    x[i] = keep - eps;
    const double down = p.loss(w, x);
    x[i] = keep;
    dx[i] = (up - down) / (2 * eps);
  }
}

void expect_matches_numeric(const Problem& p) {
  Vec dw, dx, ndw, ndx;
  p.gradients(dw, dx);
  numeric_gradients(p, ndw, ndx);
  EXPECT_LT(max_error(dw, ndw), 1e-6);
  EXPECT_LT(max_error(dx, ndx), 1e-6);
  // Not vacuous: the gradients are far from zero.
  double norm = 0.0;
  for (double g : dw) norm = std::max(norm, std::abs(g));
  EXPECT_GT(norm, 1e-2);
}

const Cell kCells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm};

struct Layout {
  const char* name;
  std::vector<int> lens;
};
const Layout kLayouts[] = {{"packed", {5, 3, 2}}, {"padded", {4, 4, 4}}};

TEST(RnnGradients, MatchFiniteDifferencesForEveryConfiguration) {
  uint64_t seed = 1000;
  for (Cell cell : kCells)
    for (int layers : {1, 2})
      for (int dirs : {1, 2})
        for (const Layout& layout : kLayouts) {
          SCOPED_TRACE(enum_name(cell) + " layers " + std::to_string(layers) + " dirs " +
                       std::to_string(dirs) + " " + layout.name);
          expect_matches_numeric(make_problem(cell, layers, dirs, layout.lens, ++seed));
        }
}

TEST(RnnGradients, WithoutOutputGradient) {
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    Problem p = make_problem(cell, 2, 2, {4, 2, 1}, 2000);
    p.gy.clear();
    expect_matches_numeric(p);
  }
}

TEST(RnnGradients, WithoutFinalStateGradient) {
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    Problem p = make_problem(cell, 2, 2, {4, 2, 1}, 3000);
    p.ghy.clear();
    p.gcy.clear();
    expect_matches_numeric(p);
  }
}

TEST(RnnGradients, LstmCellStateGradientAlone) {
  Problem p = make_problem(Cell::Lstm, 2, 2, {5, 3, 3}, 4000);
  p.gy.clear();
  p.ghy.clear();
  expect_matches_numeric(p);
}

TEST(RnnGradients, DropoutBetweenLayersWithReplayedMasks) {
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    Problem p = make_problem(cell, 3, 2, {5, 4, 2}, 5000);
    p.dropout = 0.4f;
    expect_matches_numeric(p);
    // The masks matter: the same problem without dropout has other gradients.
    Problem plain = p;
    plain.dropout = 0.0f;
    Vec dw, dx, dw_plain, dx_plain;
    p.gradients(dw, dx);
    plain.gradients(dw_plain, dx_plain);
    EXPECT_GT(max_error(dw, dw_plain), 1e-3);
  }
}

TEST(RnnGradients, BackwardAddsIntoWeightGradients) {
  const Problem p = make_problem(Cell::Gru, 2, 2, {3, 2}, 6000);
  Vec dw, dx, dw_offset, dx_offset;
  p.gradients(dw, dx);
  p.gradients(dw_offset, dx_offset, 0.25);
  for (size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw_offset[i], dw[i] + 0.25, 1e-12);
  EXPECT_EQ(dx, dx_offset);
}

TEST(RnnGradients, FloatAgreesWithDouble) {
  for (Cell cell : kCells) {
    SCOPED_TRACE(enum_name(cell));
    const Problem p = make_problem(cell, 2, 2, {5, 3, 2}, 7000);
    Vec dw, dx;
    p.gradients(dw, dx);
    auto f = [](const Vec& v) { return std::vector<float>(v.begin(), v.end()); };
    std::vector<float> w = f(p.w), x = f(p.x), gy = f(p.gy), ghy = f(p.ghy), gcy = f(p.gcy);
    CpuRnn<float> rnn(p.shape);
    std::vector<float> y(p.tokens * p.shape.output()), hy(p.states()), cy(p.states());
    std::vector<float> fdw(w.size(), 0.0f), fdx(x.size(), 0.0f);
    rnn.forward(w.data(), x.data(), p.batch_sizes, y.data(), hy.data(),
                cell == Cell::Lstm ? cy.data() : nullptr, true, nullptr);
    rnn.backward(w.data(), gy.data(), ghy.data(), cell == Cell::Lstm ? gcy.data() : nullptr,
                 fdx.data(), fdw.data());
    EXPECT_LT(max_error(Vec(fdw.begin(), fdw.end()), dw), 1e-5);
    EXPECT_LT(max_error(Vec(fdx.begin(), fdx.end()), dx), 1e-5);
  }
}

}  // namespace
}  // namespace rnnb

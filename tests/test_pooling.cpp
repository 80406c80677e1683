// Pooling over time and the two-layer head (cpu/cpu_ops.h) against central finite
// differences in double, plus their exact semantics: only real positions count, padding
// gets no gradient, the first maximum wins ties; and pooling feeding the recurrent stack's
// output gradient end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "cpu/cpu_ops.h"
#include "support/gradient_check.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

using test::Vec;
using test::dot;
using test::max_error;
using test::random_vec;

// A batch as the backends see it: lengths non-increasing, steps = the longest, and the
// active count per step (every sequence at every step when padded).
struct Layout {
  std::vector<int32_t> lengths;
  Padding padding;
  int steps() const { return lengths[0]; }
  int batch() const { return static_cast<int>(lengths.size()); }
  std::vector<int> batch_sizes() const {
    std::vector<int> sizes(steps());
    for (int t = 0; t < steps(); ++t) {
      int active = batch();
      if (padding == Padding::Packed) {
        active = 0;
        while (active < batch() && lengths[active] > t) ++active;
      }
      sizes[t] = active;
    }
    return sizes;
  }
  std::vector<int64_t> offsets() const { return step_row_offsets(batch_sizes()); }
  int64_t rows() const { return offsets().back(); }
  // Is row (t, b) one of sequence b's real positions?
  bool real(int t, int b) const {
    const int first = padding == Padding::Pre ? steps() - lengths[b] : 0;
    return t >= first && t < first + lengths[b];
  }
};

const Layout kLayouts[] = {
    {{5, 3, 3, 1}, Padding::Packed}, {{5, 3, 3, 1}, Padding::Post}, {{5, 3, 3, 1}, Padding::Pre},
    {{1}, Padding::Packed},          {{4, 4}, Padding::Post},
};

int out_width(Pool pool, int width) { return pool == Pool::MeanMax ? 2 * width : width; }

Vec pooled(Pool pool, const Layout& layout, const Vec& y, int width) {
  const std::vector<int64_t> offsets = layout.offsets();
  Vec features(static_cast<size_t>(layout.batch()) * out_width(pool, width));
  std::vector<int32_t> argmax(static_cast<size_t>(layout.batch()) * width);
  pool_forward(pool, y.data(), width, offsets.data(), layout.lengths.data(), layout.batch(), layout.steps(),
               layout.padding, features.data(), argmax.data());
  return features;
}

TEST(Pooling, GradientsMatchFiniteDifferences) {
  const int width = 3;
  Rng rng(11);
  for (Pool pool : {Pool::Mean, Pool::Max, Pool::MeanMax})
    for (const Layout& layout : kLayouts) {
      SCOPED_TRACE(enum_name(pool) + " " + enum_name(layout.padding) + " batch " +
                   std::to_string(layout.batch()));
      const std::vector<int64_t> offsets = layout.offsets();
      const Vec y = random_vec(static_cast<size_t>(layout.rows()) * width, rng);
      const Vec g = random_vec(static_cast<size_t>(layout.batch()) * out_width(pool, width), rng);
      std::vector<int32_t> argmax(static_cast<size_t>(layout.batch()) * width);
      Vec features(g.size()), dy(y.size(), 99.0);  // 99: backward must overwrite every element
      pool_forward(pool, y.data(), width, offsets.data(), layout.lengths.data(), layout.batch(), layout.steps(),
                   layout.padding, features.data(), argmax.data());
      pool_backward(pool, g.data(), width, offsets.data(), layout.lengths.data(), layout.batch(), layout.steps(),
                    layout.padding, argmax.data(), dy.data());
      Vec numeric(y.size());
      const double eps = 1e-6;
      for (size_t i = 0; i < y.size(); ++i) {
        Vec plus = y, minus = y;
        plus[i] += eps;
        minus[i] -= eps;
        numeric[i] = (dot(pooled(pool, layout, plus, width), g) - dot(pooled(pool, layout, minus, width), g)) / (2 * eps);
      }
      EXPECT_LT(max_error(dy, numeric), 1e-7);
    }
}

TEST(Pooling, OnlyRealPositionsCountAndPaddingGetsNoGradient) {
  const int width = 2;
  for (const Layout& layout : {kLayouts[1], kLayouts[2]}) {
    SCOPED_TRACE(enum_name(layout.padding));
    const std::vector<int64_t> offsets = layout.offsets();
    Vec y(static_cast<size_t>(layout.rows()) * width);
    // Real rows hold t + 1 (column 0) and -(t + 1) (column 1); padding rows hold 1000.
    for (int t = 0; t < layout.steps(); ++t)
      for (int b = 0; b < layout.batch(); ++b) {
        const int64_t row = offsets[t] + b;
        const bool real = layout.real(t, b);
        y[row * width] = real ? t + 1 : 1000.0;
        y[row * width + 1] = real ? -(t + 1) : 1000.0;
      }
    const Vec f = pooled(Pool::MeanMax, layout, y, width);
    for (int b = 0; b < layout.batch(); ++b) {
      const int first = layout.padding == Padding::Pre ? layout.steps() - layout.lengths[b] : 0;
      const int last = first + layout.lengths[b] - 1;
      const double mean = (first + 1 + last + 1) / 2.0;
      EXPECT_DOUBLE_EQ(f[b * 4 + 0], mean);
      EXPECT_DOUBLE_EQ(f[b * 4 + 1], -mean);
      EXPECT_DOUBLE_EQ(f[b * 4 + 2], last + 1);
      EXPECT_DOUBLE_EQ(f[b * 4 + 3], -(first + 1));
    }
    std::vector<int32_t> argmax(static_cast<size_t>(layout.batch()) * width);
    Vec features(static_cast<size_t>(layout.batch()) * 2 * width);
    pool_forward(Pool::MeanMax, y.data(), width, offsets.data(), layout.lengths.data(), layout.batch(),
                 layout.steps(), layout.padding, features.data(), argmax.data());
    const Vec g(features.size(), 1.0);
    Vec dy(y.size(), 7.0);
    pool_backward(Pool::MeanMax, g.data(), width, offsets.data(), layout.lengths.data(), layout.batch(),
                  layout.steps(), layout.padding, argmax.data(), dy.data());
    for (int t = 0; t < layout.steps(); ++t)
      for (int b = 0; b < layout.batch(); ++b)
        if (!layout.real(t, b)) {
          EXPECT_EQ(dy[(offsets[t] + b) * width], 0.0) << "t " << t << " b " << b;
          EXPECT_EQ(dy[(offsets[t] + b) * width + 1], 0.0) << "t " << t << " b " << b;
        }
  }
}

TEST(Pooling, MaxTiesGoToTheFirstPosition) {
  const Layout layout{{4}, Padding::Packed};
  const Vec y = {2.0, 5.0, 5.0, 1.0};  // width 1, one sequence
  const std::vector<int64_t> offsets = layout.offsets();
  Vec features(1), dy(4);
  int32_t argmax = -1;
  pool_forward(Pool::Max, y.data(), 1, offsets.data(), layout.lengths.data(), 1, 4, Padding::Packed, features.data(),
               &argmax);
  EXPECT_EQ(features[0], 5.0);
  EXPECT_EQ(argmax, 1);
  const double g = 3.0;
  pool_backward(Pool::Max, &g, 1, offsets.data(), layout.lengths.data(), 1, 4, Padding::Packed, &argmax, dy.data());
  EXPECT_EQ(dy, (Vec{0.0, 3.0, 0.0, 0.0}));
}

TEST(Pooling, FeatureWidthAndLayoutFollowThePooling) {
  ModelConfig m;
  m.vocab_size = 10;
  m.embed = 3;
  m.hidden = 4;
  m.bidirectional = true;
  EXPECT_EQ(m.features(), 8);
  m.pool = Pool::MeanMax;
  EXPECT_EQ(m.features(), 16);
  m.head_hidden = 5;
  EXPECT_EQ(m.head_input(), 5);
  const ParamLayout layout(m);
  EXPECT_EQ(layout.head_b - layout.head_w, static_cast<size_t>(2 * 5));
  EXPECT_EQ(layout.hidden_w, layout.head_b + 2);
  EXPECT_EQ(layout.hidden_b - layout.hidden_w, static_cast<size_t>(5 * 16));
  EXPECT_EQ(layout.total, layout.hidden_b + 5);
  m.head_hidden = 0;
  const ParamLayout plain(m);
  EXPECT_EQ(plain.hidden_w, plain.total);  // no hidden layer: nothing after the output layer
  EXPECT_EQ(parse_enum<Pool>("meanmax"), Pool::MeanMax);
  EXPECT_EQ(enum_name(parse_enum<Pool>("max")), "max");
  EXPECT_THROW(parse_enum<Pool>("sum"), UsageError);
}

// The head with and without its hidden ReLU layer: every parameter's and the features'
// gradient against finite differences of sum(logits * g).
TEST(Head, GradientsMatchFiniteDifferences) {
  const int batch = 3, F = 5, C = 2;
  for (int hidden : {0, 4}) {
    SCOPED_TRACE("hidden " + std::to_string(hidden));
    Rng rng(5 + hidden);
    Vec features = random_vec(static_cast<size_t>(batch) * F, rng);
    Vec hw = random_vec(static_cast<size_t>(hidden) * F, rng), hb = random_vec(hidden, rng, 0.5);
    Vec ow = random_vec(static_cast<size_t>(C) * (hidden ? hidden : F), rng), ob = random_vec(C, rng);
    const Vec g = random_vec(static_cast<size_t>(batch) * C, rng);
    auto loss = [&]() {
      Vec act(static_cast<size_t>(batch) * hidden), logits(static_cast<size_t>(batch) * C);
      head_forward(features.data(), batch, F, hidden, C, hw.data(), hb.data(), ow.data(), ob.data(), act.data(),
                   logits.data());
      return dot(logits, g);
    };
    Vec act(static_cast<size_t>(batch) * hidden), logits(static_cast<size_t>(batch) * C);
    head_forward(features.data(), batch, F, hidden, C, hw.data(), hb.data(), ow.data(), ob.data(), act.data(),
                 logits.data());
    if (hidden > 0) {
      // The ReLU must be active for some units and not others, or the test proves little.
      const auto positive = std::count_if(act.begin(), act.end(), [](double a) { return a > 0.0; });
      ASSERT_GT(positive, 0);
      ASSERT_LT(positive, static_cast<long>(act.size()));
    }
    Vec dhw(hw.size(), 9.0), dhb(hb.size(), 9.0), dow(ow.size(), 9.0), dob(ob.size(), 9.0), df(features.size(), 9.0);
    Vec dact(act.size());
    head_backward(features.data(), act.data(), g.data(), batch, F, hidden, C, hw.data(), ow.data(), dhw.data(),
                  dhb.data(), dow.data(), dob.data(), df.data(), dact.data());
    for (auto [values, analytic] : {std::pair{&features, &df}, {&hw, &dhw}, {&hb, &dhb}, {&ow, &dow}, {&ob, &dob}}) {
      Vec numeric(values->size());
      for (size_t i = 0; i < values->size(); ++i) {
        const double keep = (*values)[i], eps = 1e-6;
        (*values)[i] = keep + eps;
        const double up = loss();
        (*values)[i] = keep - eps;
        const double down = loss();
        (*values)[i] = keep;
        numeric[i] = (up - down) / (2 * eps);
      }
      EXPECT_LT(max_error(*analytic, numeric), 1e-7);
    }
  }
}

// Pooling feeding the recurrent stack's output gradient: d/dw of sum(pool(rnn(x)) * g) by
// backward(dy = pool_backward(g)) against finite differences, packed and padded.
TEST(Pooling, GradientFlowsThroughTheRecurrentStack) {
  for (const Layout& layout : {kLayouts[0], kLayouts[2]}) {
    SCOPED_TRACE(enum_name(layout.padding));
    const RnnShape shape{Cell::Gru, 3, 4, 1, 2};
    Rng rng(3);
    const std::vector<int> sizes = layout.batch_sizes();
    const std::vector<int64_t> offsets = layout.offsets();
    const size_t rows = static_cast<size_t>(layout.rows());
    const Vec x = random_vec(rows * shape.input, rng);
    Vec w = random_vec(shape.weight_count(), rng, 0.5);
    const Vec g = random_vec(static_cast<size_t>(layout.batch()) * 2 * shape.output(), rng);
    // y outlives the call: backward reads it.
    Vec y(rows * shape.output()), hy(static_cast<size_t>(shape.dirs) * layout.batch() * shape.hidden);
    auto features_of = [&](const Vec& weights, CpuRnn<double>& rnn, std::vector<int32_t>& argmax) {
      rnn.forward(weights.data(), x.data(), sizes, y.data(), hy.data(), nullptr, true, nullptr);
      Vec features(g.size());
      argmax.resize(static_cast<size_t>(layout.batch()) * shape.output());
      pool_forward(Pool::MeanMax, y.data(), shape.output(), offsets.data(), layout.lengths.data(), layout.batch(),
                   layout.steps(), layout.padding, features.data(), argmax.data());
      return features;
    };
    CpuRnn<double> rnn(shape);
    std::vector<int32_t> argmax;
    features_of(w, rnn, argmax);
    Vec dy(rows * shape.output()), dw(w.size(), 0.0);
    pool_backward(Pool::MeanMax, g.data(), shape.output(), offsets.data(), layout.lengths.data(), layout.batch(),
                  layout.steps(), layout.padding, argmax.data(), dy.data());
    rnn.backward(w.data(), dy.data(), nullptr, nullptr, nullptr, dw.data());
    Vec numeric(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      const double keep = w[i], eps = 1e-6;
      CpuRnn<double> probe(shape);
      std::vector<int32_t> unused;
      w[i] = keep + eps;
      const double up = dot(features_of(w, probe, unused), g);
      w[i] = keep - eps;
      const double down = dot(features_of(w, probe, unused), g);
      w[i] = keep;
      numeric[i] = (up - down) / (2 * eps);
    }
    EXPECT_LT(max_error(dw, numeric), 1e-6);
  }
}

}  // namespace
}  // namespace rnnb

// Backend::last_gradient on the CPU backend against central finite differences of the mean
// loss (through evaluate(), which has no dropout): per parameter block, the largest-gradient
// entry and random ones, so a missing 1/B or a doubled bias gradient fails even though
// Adam's update would hide it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/batching.h"
#include "support/test_data.h"
#include "train/backend.h"
#include "util/rng.h"

namespace rnnb {
namespace {

struct GradCase {
  Cell cell;
  Pool pool;
  int head_hidden;
  Padding padding;
  bool bidirectional;
};

class LastGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(LastGradient, MatchesFiniteDifferencesOfTheMeanLoss) {
  const GradCase& c = GetParam();
  ModelConfig model;
  model.cell = c.cell;
  model.vocab_size = 24;
  model.embed = 5;
  model.hidden = 6;
  model.layers = 2;
  model.bidirectional = c.bidirectional;
  model.pool = c.pool;
  model.head_hidden = c.head_hidden;
  OptimConfig optim;
  optim.weight_decay = 0.1f;  // must not leak into the raw gradient
  optim.clip_norm = 0.01f;    // nor clipping (these gradients are larger)

  const TokenizedSplit set = test::synthetic_split(10, model.vocab_size, 3);
  Rng batch_rng(4);
  const Batch batch = make_batches(set, 5, BatchOrder::Random, c.padding, batch_rng).front();
  ASSERT_GT(batch.size(), 1);  // a missing 1/B must show

  const TrainState start = initial_state(model, 11);
  auto trained = make_cpu_backend(model, optim, BackendOptions{}, 11);
  EXPECT_TRUE(trained->last_gradient().empty());
  trained->set_state(start);
  trained->attach(Slot::Train, set);
  trained->train_step(Slot::Train, batch, 1e-3f);
  const std::vector<float> grad = trained->last_gradient();
  const ParamLayout layout(model);
  ASSERT_EQ(grad.size(), layout.total);

  auto probe = make_cpu_backend(model, optim, BackendOptions{}, 11);
  probe->attach(Slot::Train, set);
  auto mean_loss = [&](size_t index, float delta) {
    TrainState s = start;
    s.params[index] += delta;
    probe->set_state(s);
    probe->evaluate(Slot::Train, batch, nullptr);
    return probe->take_stats().loss_sum / batch.size();
  };

  struct Block {
    const char* name;
    size_t begin, end;
  };
  std::vector<Block> blocks = {{"embedding", layout.embedding, layout.rnn},
                               {"rnn", layout.rnn, layout.head_w},
                               {"head_w", layout.head_w, layout.head_b},
                               {"head_b", layout.head_b, layout.hidden_w}};
  if (model.head_hidden > 0) {
    blocks.push_back({"hidden_w", layout.hidden_w, layout.hidden_b});
    blocks.push_back({"hidden_b", layout.hidden_b, layout.total});
  }
  Rng pick(5);
  const float eps = 5e-4f;
  for (const Block& block : blocks) {
    std::vector<size_t> indices;
    size_t largest = block.begin;
    for (size_t i = block.begin; i < block.end; ++i)
      if (std::abs(grad[i]) > std::abs(grad[largest])) largest = i;
    indices.push_back(largest);
    for (int k = 0; k < 3; ++k) indices.push_back(block.begin + pick.below(block.end - block.begin));
    ASSERT_GT(std::abs(grad[largest]), 1e-4f) << block.name << ": the block gets no gradient";
    for (size_t i : indices) {
      const double up = mean_loss(i, eps), here = mean_loss(i, 0.0f), down = mean_loss(i, -eps);
      const double central = (up - down) / (2.0 * eps);
      const double forward = (up - here) / eps, backward = (here - down) / eps;
      // fp32 forward: the loss is good to ~1e-6, so a difference to ~1e-3 absolute.
      auto tolerance = [](double fd) { return 1e-3 + 2e-2 * std::abs(fd); };
      // A ReLU input or a max-pooling tie exactly at this point is a kink: the one-sided
      // slopes differ and the gradient is one of them (ReLU'(0) = 0, the first maximum).
      const bool kink = std::abs(forward - backward) > tolerance(central);
      const double error = kink ? std::min(std::abs(grad[i] - forward), std::abs(grad[i] - backward))
                                : std::abs(grad[i] - central);
      EXPECT_LE(error, tolerance(kink ? std::max(std::abs(forward), std::abs(backward)) : central))
          << block.name << " index " << i - block.begin << " of " << block.end - block.begin << ": gradient "
          << grad[i] << ", central difference " << central << ", one-sided " << forward << " / " << backward;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LastGradient,
    ::testing::Values(GradCase{Cell::Gru, Pool::Last, 0, Padding::Packed, true},
                      GradCase{Cell::Lstm, Pool::Mean, 4, Padding::Post, false},
                      GradCase{Cell::RnnTanh, Pool::MeanMax, 0, Padding::Packed, true},
                      GradCase{Cell::Gru, Pool::Max, 4, Padding::Pre, false}),
    [](const ::testing::TestParamInfo<GradCase>& info) {
      std::string name = enum_name(info.param.cell) + "_" + enum_name(info.param.pool) + "_h" +
                         std::to_string(info.param.head_hidden) + "_" + enum_name(info.param.padding) +
                         (info.param.bidirectional ? "_bi" : "_uni");
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

}  // namespace
}  // namespace rnnb

// The cuDNN backend against the CPU backend with the accuracy options: pooling over the
// outputs (mean / max / meanmax, packed and padded), the hidden head layer, and embedding
// dropout 0 (identical to none); the same initial state and batches must give the same
// losses and parameters after several training steps, and the same evaluation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "data/batching.h"
#include "gpu_test_util.h"
#include "train/backend.h"
#include "util/rng.h"

namespace rnnb {
namespace {

struct OptionsCase {
  Cell cell;
  Pool pool;
  Padding padding;
  int head_hidden;
  bool bidirectional;
};

class CudaModelOptions : public test::GpuTest, public ::testing::WithParamInterface<OptionsCase> {};

TEST_P(CudaModelOptions, TrainingStepsMatchCpuBackend) {
  const OptionsCase& c = GetParam();
  ModelConfig model;
  model.cell = c.cell;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 12;
  model.layers = 2;
  model.bidirectional = c.bidirectional;
  model.pool = c.pool;
  model.head_hidden = c.head_hidden;
  model.embed_dropout = 0.0f;
  OptimConfig optim;
  optim.lr = 3e-3f;
  optim.clip_norm = 0.5f;
  const TokenizedSplit set = test::random_split(30, model.vocab_size, 14, 5);
  Rng rng(9);
  const std::vector<Batch> batches = make_batches(set, 6, BatchOrder::Random, c.padding, rng);

  auto [cpu, gpu] = test::twin_backends(model, optim, set, 21);
  const TrainState start = initial_state(model, 21);
  for (size_t i = 0; i < batches.size(); ++i) {
    cpu->train_step(Slot::Train, batches[i], optim.lr);
    gpu->train_step(Slot::Train, batches[i], optim.lr);
    const double cl = cpu->take_stats().loss_sum, gl = gpu->take_stats().loss_sum;
    EXPECT_LT(std::abs(gl - cl) / std::max(std::abs(cl), 1e-12), 1e-4) << "step " << i;
  }
  const TrainState cs = cpu->state(), gs = gpu->state();
  std::vector<double> gpu_update(cs.params.size()), cpu_update(cs.params.size());
  for (size_t i = 0; i < cs.params.size(); ++i) {
    gpu_update[i] = static_cast<double>(gs.params[i]) - start.params[i];
    cpu_update[i] = static_cast<double>(cs.params[i]) - start.params[i];
  }
  const double update_err = test::relative_error(gpu_update, cpu_update);
  RecordProperty("update_rel_err", std::to_string(update_err));
  EXPECT_LT(update_err, 2e-3);

  cpu->attach(Slot::Validation, set);
  gpu->attach(Slot::Validation, set);
  for (const Batch& batch : make_batches(set, 7, BatchOrder::Sequential, c.padding, rng)) {
    std::vector<float> cp(batch.size()), gp(batch.size(), -1.0f);
    cpu->evaluate(Slot::Validation, batch, cp.data());
    gpu->evaluate(Slot::Validation, batch, gp.data());
    EXPECT_LT(test::relative_error(gp, cp), 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Options, CudaModelOptions,
    ::testing::Values(OptionsCase{Cell::Gru, Pool::MeanMax, Padding::Packed, 0, true},
                      OptionsCase{Cell::Lstm, Pool::Mean, Padding::Post, 16, false},
                      OptionsCase{Cell::RnnTanh, Pool::Max, Padding::Pre, 0, true},
                      OptionsCase{Cell::Gru, Pool::Last, Padding::Post, 16, true},
                      OptionsCase{Cell::Lstm, Pool::MeanMax, Padding::Packed, 10, true}),
    [](const ::testing::TestParamInfo<OptionsCase>& info) {
      std::string name = enum_name(info.param.cell) + "_" + enum_name(info.param.pool) + "_" +
                         enum_name(info.param.padding) + "_hidden" + std::to_string(info.param.head_hidden);
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

class CudaInputDropout : public test::GpuTest {};

// Embedding or word dropout on the GPU: training differs from no dropout, evaluation does
// not, and the same seed repeats (their streams are keyed by the seed and step, not by
// hidden state).
void expect_training_only_and_repeats(const ModelConfig& model) {
  ModelConfig plain = model;
  plain.embed_dropout = 0.0f;
  plain.word_dropout = 0.0f;
  const TokenizedSplit set = test::random_split(30, model.vocab_size, 14, 6);
  Rng rng(2);
  const std::vector<Batch> batches = make_batches(set, 8, BatchOrder::Random, Padding::Packed, rng);
  BackendOptions deterministic;
  deterministic.deterministic = true;
  auto a = make_cuda_backend(model, OptimConfig{}, deterministic, 3);
  auto b = make_cuda_backend(model, OptimConfig{}, deterministic, 3);
  auto c = make_cuda_backend(plain, OptimConfig{}, deterministic, 3);
  for (auto* backend : {a.get(), b.get(), c.get()}) backend->attach(Slot::Train, set);
  for (auto* backend : {a.get(), c.get()}) backend->evaluate(Slot::Train, batches[0], nullptr);
  EXPECT_EQ(a->take_stats().loss_sum, c->take_stats().loss_sum);
  for (const Batch& batch : batches)
    for (auto* backend : {a.get(), b.get(), c.get()}) backend->train_step(Slot::Train, batch, 1e-2f);
  EXPECT_TRUE(test::same_bits(a->state().params, b->state().params));
  EXPECT_FALSE(test::same_bits(a->state().params, c->state().params));
}

ModelConfig small_model() {
  ModelConfig model;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 12;
  return model;
}

TEST_F(CudaInputDropout, EmbeddingDropoutActsInTrainingOnlyAndRepeats) {
  ModelConfig model = small_model();
  model.embed_dropout = 0.5f;
  expect_training_only_and_repeats(model);
}

TEST_F(CudaInputDropout, WordDropoutActsInTrainingOnlyAndRepeats) {
  ModelConfig model = small_model();
  model.word_dropout = 0.3f;
  expect_training_only_and_repeats(model);
}

}  // namespace
}  // namespace rnnb

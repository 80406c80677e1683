// The cuDNN backend against the CPU backend on a tiny random dataset: the same initial
// state and batches give the same losses, predictions and parameters after several
// training steps; states load in each other exactly; --deterministic repeats bit for bit.
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

ModelConfig tiny_model(Cell cell) {
  ModelConfig model;
  model.cell = cell;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 12;
  model.layers = 2;
  model.bidirectional = true;
  return model;
}

OptimConfig tiny_optim() {
  OptimConfig optim;
  optim.lr = 3e-3f;
  optim.weight_decay = 1e-2f;
  optim.clip_norm = 0.5f;  // small enough to engage
  return optim;
}

std::vector<Batch> tiny_batches(const TokenizedSplit& set, Padding padding, uint64_t seed) {
  Rng rng(seed);
  return make_batches(set, 6, BatchOrder::Random, padding, rng);
}

double relative_diff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

struct BackendCase {
  Cell cell;
  Padding padding;
};

class CudaBackendParity : public test::GpuTest, public ::testing::WithParamInterface<BackendCase> {};

// Several training steps, then evaluation, on both backends from the same state.
TEST_P(CudaBackendParity, TrainingStepsMatchCpuBackend) {
  const BackendCase& c = GetParam();
  const ModelConfig model = tiny_model(c.cell);
  const OptimConfig optim = tiny_optim();
  const TokenizedSplit set = test::random_split(30, model.vocab_size, 14, 5);
  const std::vector<Batch> batches = tiny_batches(set, c.padding, 9);
  ASSERT_GE(batches.size(), 4u);

  auto [cpu, gpu] = test::twin_backends(model, optim, set, 21);
  const TrainState start = initial_state(model, 21);

  for (size_t i = 0; i < batches.size(); ++i) {
    cpu->train_step(Slot::Train, batches[i], optim.lr);
    gpu->train_step(Slot::Train, batches[i], optim.lr);
    const BatchStats cs = cpu->take_stats(), gs = gpu->take_stats();
    const double err = relative_diff(gs.loss_sum, cs.loss_sum);
    RecordProperty("loss_rel_err_step" + std::to_string(i), std::to_string(err));
    EXPECT_LT(err, 1e-4) << "step " << i;
    EXPECT_EQ(gs.count, cs.count);
    EXPECT_EQ(gs.real_tokens, cs.real_tokens);
    EXPECT_EQ(gs.computed_tokens, cs.computed_tokens);
  }

  const TrainState cs = cpu->state(), gs = gpu->state();
  EXPECT_EQ(gs.adam_step, cs.adam_step);
  const double params_err = test::relative_error(gs.params, cs.params);
  RecordProperty("params_rel_err", std::to_string(params_err));
  EXPECT_LT(params_err, 1e-4);
  // The updates themselves (params - start) are the sensitive part.
  std::vector<double> gpu_update(cs.params.size()), cpu_update(cs.params.size());
  for (size_t i = 0; i < cs.params.size(); ++i) {
    gpu_update[i] = static_cast<double>(gs.params[i]) - start.params[i];
    cpu_update[i] = static_cast<double>(cs.params[i]) - start.params[i];
  }
  const double update_err = test::relative_error(gpu_update, cpu_update);
  RecordProperty("update_rel_err", std::to_string(update_err));
  EXPECT_LT(update_err, 2e-3);
  EXPECT_LT(test::relative_error(gs.adam_v, cs.adam_v), 1e-3);

  // Evaluation: probabilities and stats.
  cpu->attach(Slot::Validation, set);
  gpu->attach(Slot::Validation, set);
  Rng rng(3);
  const auto eval_batches = make_batches(set, 7, BatchOrder::Sequential, c.padding, rng);
  for (const Batch& batch : eval_batches) {
    std::vector<float> cp(batch.size()), gp(batch.size(), -1.0f);
    cpu->evaluate(Slot::Validation, batch, cp.data());
    gpu->evaluate(Slot::Validation, batch, gp.data());
    const double err = test::relative_error(gp, cp);
    EXPECT_LT(err, 1e-4);
  }
  const BatchStats ce = cpu->take_stats(), ge = gpu->take_stats();
  EXPECT_LT(relative_diff(ge.loss_sum, ce.loss_sum), 1e-4);
  EXPECT_EQ(ge.count, ce.count);
  EXPECT_NEAR(static_cast<double>(ge.correct), static_cast<double>(ce.correct), 1.0);
}

INSTANTIATE_TEST_SUITE_P(
    Cells, CudaBackendParity,
    ::testing::Values(BackendCase{Cell::Gru, Padding::Packed}, BackendCase{Cell::Lstm, Padding::Packed},
                      BackendCase{Cell::RnnTanh, Padding::Packed}, BackendCase{Cell::Gru, Padding::Post},
                      BackendCase{Cell::Lstm, Padding::Pre}, BackendCase{Cell::RnnRelu, Padding::Post}),
    [](const ::testing::TestParamInfo<BackendCase>& info) {
      std::string name = enum_name(info.param.cell) + "_" + enum_name(info.param.padding);
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

class CudaBackend : public test::GpuTest {};

// States cross between the backends unchanged: the device layout is a permutation.
TEST_F(CudaBackend, StatesLoadInEachOtherExactly) {
  const ModelConfig model = tiny_model(Cell::Lstm);
  auto cpu = make_cpu_backend(model, tiny_optim(), BackendOptions{}, 4);
  auto gpu = make_cuda_backend(model, tiny_optim(), BackendOptions{}, 4);
  TrainState state = initial_state(model, 77);
  Rng rng(8);
  for (float& m : state.adam_m) m = rng.uniform(-1.0f, 1.0f);
  for (float& v : state.adam_v) v = rng.uniform(0.0f, 1.0f);
  state.adam_step = 17;

  gpu->set_state(state);
  const TrainState back = gpu->state();
  EXPECT_TRUE(test::same_bits(back.params, state.params));
  EXPECT_TRUE(test::same_bits(back.adam_m, state.adam_m));
  EXPECT_TRUE(test::same_bits(back.adam_v, state.adam_v));
  EXPECT_EQ(back.adam_step, 17);

  cpu->set_state(back);
  gpu->set_state(cpu->state());
  EXPECT_TRUE(test::same_bits(gpu->state().params, state.params));
}

// With --deterministic, two runs give bit-identical losses and parameters.
TEST_F(CudaBackend, DeterministicRunsRepeatBitForBit) {
  const ModelConfig model = tiny_model(Cell::Gru);
  const TokenizedSplit set = test::random_split(40, model.vocab_size, 20, 6);
  const auto batches = tiny_batches(set, Padding::Packed, 2);
  BackendOptions options;
  options.deterministic = true;
  std::vector<double> losses[2];
  std::vector<float> params[2];
  for (int run = 0; run < 2; ++run) {
    auto gpu = make_cuda_backend(model, tiny_optim(), options, 13);
    gpu->attach(Slot::Train, set);
    for (const Batch& batch : batches) {
      gpu->train_step(Slot::Train, batch, 1e-2f);
      losses[run].push_back(gpu->take_stats().loss_sum);
    }
    params[run] = gpu->state().params;
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_TRUE(test::same_bits(params[0], params[1]));
}

// tf32 and fp16 train close to the fp32 CPU backend, within their looser bounds.
TEST_F(CudaBackend, ReducedPrecisionStaysClose) {
  const ModelConfig model = tiny_model(Cell::Lstm);
  const OptimConfig optim = tiny_optim();
  const TokenizedSplit set = test::random_split(30, model.vocab_size, 14, 15);
  const auto batches = tiny_batches(set, Padding::Packed, 4);
  for (const auto& [math, bound] : {std::pair<RnnMath, double>{RnnMath::Tf32, 5e-3}, {RnnMath::Fp16, 2e-2}}) {
    BackendOptions options;
    options.math = math;
    auto cpu = make_cpu_backend(model, optim, BackendOptions{}, 3);
    auto gpu = make_cuda_backend(model, optim, options, 3);
    cpu->attach(Slot::Train, set);
    gpu->attach(Slot::Train, set);
    for (const Batch& batch : batches) {
      cpu->train_step(Slot::Train, batch, optim.lr);
      gpu->train_step(Slot::Train, batch, optim.lr);
      const double err = relative_diff(gpu->take_stats().loss_sum, cpu->take_stats().loss_sum);
      RecordProperty("loss_rel_err_" + enum_name(math), std::to_string(err));
      EXPECT_LT(err, bound) << enum_name(math);
    }
    EXPECT_LT(test::relative_error(gpu->state().params, cpu->state().params), bound) << enum_name(math);
  }
}

TEST_F(CudaBackend, RejectsUnknownOptionsAndNamesTheDevice) {
  const ModelConfig model = tiny_model(Cell::Gru);
  BackendOptions options;
  // An unknown math cannot reach the backend: its name is refused where it is parsed.
  EXPECT_THROW(options.math = parse_enum<RnnMath>("fp8"), UsageError);
  options.profile_steps = "5:2";
  EXPECT_THROW(make_cuda_backend(model, tiny_optim(), options, 1), UsageError);
  auto gpu = make_cuda_backend(model, tiny_optim(), BackendOptions{}, 1);
  EXPECT_EQ(gpu->name().rfind("cuda:", 0), 0u);
}

}  // namespace
}  // namespace rnnb

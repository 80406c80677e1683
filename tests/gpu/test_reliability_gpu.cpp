// Reliability on the GPU: the memory check before training refuses a batch that cannot fit
// and says what to lower; a non-finite step is skipped on the device (no update, Adam's step
// not counted) exactly as the CPU backend skips it. Skipped without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/batching.h"
#include "gpu_test_util.h"
#include "train/backend.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

ModelConfig small_model() {
  ModelConfig model;
  model.cell = Cell::Lstm;
  model.vocab_size = 50;
  model.embed = 16;
  model.hidden = 32;
  model.layers = 2;
  return model;
}

class GpuReliability : public test::GpuTest {};

TEST_F(GpuReliability, MemoryCheckRefusesWhatCannotFitAndSaysWhatToLower) {
  auto gpu = make_cuda_backend(small_model(), OptimConfig{}, BackendOptions{}, 1);
  EXPECT_NO_THROW(gpu->check_memory(64, 1000));
  for (auto [batch, longest] : {std::pair{1 << 20, 2000}, std::pair{4096, 1'000'000}}) {
    try {
      gpu->check_memory(batch, longest);
      ADD_FAILURE() << "a batch of " << batch << " x " << longest << " tokens was accepted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("--batch-size"), std::string::npos) << message;
      EXPECT_NE(message.find("--max-len"), std::string::npos) << message;
    }
  }
}

TEST_F(GpuReliability, NonFiniteStepIsSkippedOnTheDeviceLikeOnTheCpu) {
  Rng rng(4);
  TokenizedSplit set;
  std::vector<int32_t> ids;
  for (int r = 0; r < 48; ++r) {
    ids.resize(1 + rng.below(20));
    for (auto& id : ids) id = static_cast<int32_t>(2 + rng.below(48));
    set.add(ids.data(), ids.size(), static_cast<uint8_t>(rng.below(2)));
  }
  Rng order(2);
  const std::vector<Batch> batches = make_batches(set, 8, BatchOrder::Random, Padding::Packed, order);
  BackendHooks poisoned;
  poisoned.inject_nan_at_step = 3;
  OptimConfig optim;
  optim.clip_norm = 1.0f;
  auto cpu = make_cpu_backend(small_model(), optim, BackendOptions{}, 9, poisoned);
  auto gpu = make_cuda_backend(small_model(), optim, BackendOptions{}, 9, poisoned);
  for (Backend* backend : {cpu.get(), gpu.get()}) {
    backend->attach(Slot::Train, set);
    for (const Batch& batch : batches) backend->train_step(Slot::Train, batch, 1e-3f);
  }
  const BatchStats cpu_stats = cpu->take_stats(), gpu_stats = gpu->take_stats();
  EXPECT_EQ(gpu_stats.skipped, 1);
  EXPECT_EQ(gpu_stats.first_skipped, 2);
  EXPECT_EQ(gpu_stats.count, cpu_stats.count);
  EXPECT_NEAR(gpu_stats.loss_sum, cpu_stats.loss_sum, 1e-3 * std::abs(cpu_stats.loss_sum));
  const TrainState c = cpu->state(), g = gpu->state();
  EXPECT_EQ(g.adam_step, static_cast<int64_t>(batches.size()) - 1);
  EXPECT_EQ(g.adam_step, c.adam_step);
  EXPECT_LT(test::relative_error(g.params, c.params), 1e-4);
  EXPECT_LT(test::relative_error(g.adam_v, c.adam_v), 1e-3);
}

}  // namespace
}  // namespace rnnb

// Gradient parity of the cuDNN backend with the CPU backend: the raw gradient of one step
// (Backend::last_gradient) from the same initial state, whole and per parameter block
// (embedding, recurrent weights, head), over every cell x layers x direction x batch layout
// x pooling x head. Adam's m/sqrt(v) hides constant factors in the gradient, so parameter
// parity alone cannot catch a missing 1/B; this can. Also: tf32/fp16 over several steps, and
// fp16's static loss scaling on long sequences and on overflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "data/batching.h"
#include "gpu_test_util.h"
#include "train/backend.h"
#include "util/rng.h"

namespace rnnb {
namespace {

// fp32: both sides compute the same sums in different orders (cuDNN's kernels, cuBLAS,
// atomics in the embedding gradient): ~1e-6 per operation, growing over the recurrence.
constexpr double kFp32GradBound = 1e-4;
// tf32 rounds GEMM inputs to 10 mantissa bits (relative 2^-11 ~ 5e-4 each), fp16 also stores
// every activation and gradient with 10 bits; over a few steps of recurrence and a few
// optimizer steps these stay within about 20x of one rounding.
constexpr double kTf32GradBound = 1e-2;
constexpr double kFp16GradBound = 5e-2;
constexpr double kReducedLossBound = 1e-2;

struct BlockErrors {
  double whole = 0.0, embedding = 0.0, rnn = 0.0, head = 0.0;
  double worst() const { return std::max({whole, embedding, rnn, head}); }
};

std::vector<float> slice(const std::vector<float>& v, size_t begin, size_t end) {
  return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(begin), v.begin() + static_cast<std::ptrdiff_t>(end));
}

BlockErrors block_errors(const ModelConfig& model, const std::vector<float>& gpu, const std::vector<float>& cpu) {
  const ParamLayout layout(model);
  BlockErrors e;
  e.whole = test::relative_error(gpu, cpu);
  if (gpu.size() != layout.total || cpu.size() != layout.total) {
    e.embedding = e.rnn = e.head = e.whole;
    return e;
  }
  e.embedding = test::relative_error(slice(gpu, layout.embedding, layout.rnn), slice(cpu, layout.embedding, layout.rnn));
  e.rnn = test::relative_error(slice(gpu, layout.rnn, layout.head_w), slice(cpu, layout.rnn, layout.head_w));
  e.head = test::relative_error(slice(gpu, layout.head_w, layout.total), slice(cpu, layout.head_w, layout.total));
  return e;
}

std::string describe(const ModelConfig& m, Padding padding) {
  std::ostringstream s;
  s << enum_name(m.cell) << " layers " << m.layers << (m.bidirectional ? " bi" : " uni") << " "
    << enum_name(padding) << " pool " << enum_name(m.pool) << " head_hidden " << m.head_hidden;
  return s.str();
}

std::string format(const BlockErrors& e) {
  std::ostringstream s;
  s << "whole " << e.whole << ", embedding " << e.embedding << ", rnn " << e.rnn << ", head " << e.head;
  return s.str();
}

ModelConfig small_model(Cell cell) {
  ModelConfig model;
  model.cell = cell;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 12;
  return model;
}

OptimConfig small_optim() {
  OptimConfig optim;
  optim.lr = 3e-3f;
  optim.weight_decay = 1e-2f;
  optim.clip_norm = 0.5f;  // engages; last_gradient is before it
  return optim;
}

class GradientParity : public test::GpuTest, public ::testing::WithParamInterface<Cell> {};

// One step from the same state: the whole gradient and each block within kFp32GradBound.
TEST_P(GradientParity, OneStepGradientMatchesCpuInEveryBlock) {
  const TokenizedSplit set = test::random_split(24, 40, 12, 31);
  BlockErrors worst;
  std::string worst_case;
  std::vector<std::string> failures;
  int cases = 0;
  for (int layers : {1, 2})
    for (bool bidirectional : {false, true})
      for (Padding padding : {Padding::Packed, Padding::Post})
        for (Pool pool : {Pool::Last, Pool::Mean, Pool::Max, Pool::MeanMax})
          for (int head_hidden : {0, 16}) {
            ModelConfig model = small_model(GetParam());
            model.layers = layers;
            model.bidirectional = bidirectional;
            model.pool = pool;
            model.head_hidden = head_hidden;
            Rng rng(7);
            const Batch batch = make_batches(set, 6, BatchOrder::Random, padding, rng).front();
            auto [cpu, gpu] = test::twin_backends(model, small_optim(), set, 17);
            cpu->train_step(Slot::Train, batch, 1e-3f);
            gpu->train_step(Slot::Train, batch, 1e-3f);
            const std::vector<float> gc = cpu->last_gradient(), gg = gpu->last_gradient();
            // Not vacuous: full-size gradients, and a CPU gradient that is not all zeros.
            ASSERT_EQ(gc.size(), ParamLayout(model).total);
            ASSERT_EQ(gg.size(), gc.size());
            ASSERT_GT(test::relative_error(std::vector<float>(gc.size(), 0.0f), gc), 0.0);
            const BlockErrors e = block_errors(model, gg, gc);
            ++cases;
            const std::string name = describe(model, padding);
            if (!(e.worst() <= kFp32GradBound)) failures.push_back(name + ": " + format(e));
            if (!(e.worst() <= worst.worst())) {
              worst = e;
              worst_case = name;
            }
          }
  EXPECT_EQ(cases, 64);
  RecordProperty("worst_grad_rel_err", std::to_string(worst.worst()));
  std::ostringstream all;
  for (const auto& f : failures) all << "\n  " << f;
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << cases << " cases exceed " << kFp32GradBound
                                << "; worst " << worst_case << " (" << format(worst) << ")" << all.str();
}

INSTANTIATE_TEST_SUITE_P(Cells, GradientParity,
                         ::testing::Values(Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                           std::string name = enum_name(info.param);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

class ReducedPrecisionGradients : public test::GpuTest {};

// tf32 and fp16 (loss-scaled) against the fp32 CPU backend, five steps: each step's gradient
// per block and each step's loss.
TEST_F(ReducedPrecisionGradients, StayWithinTheirBoundsOverFiveSteps) {
  const TokenizedSplit set = test::random_split(40, 40, 14, 41);
  Rng rng(5);
  const std::vector<Batch> batches = make_batches(set, 8, BatchOrder::Random, Padding::Packed, rng);
  ASSERT_GE(batches.size(), 5u);
  for (const auto& [math, grad_bound] : {std::pair<RnnMath, double>{RnnMath::Tf32, kTf32GradBound},
                                         {RnnMath::Fp16, kFp16GradBound}})
    for (Cell cell : {Cell::RnnTanh, Cell::Gru, Cell::Lstm})
      for (Pool pool : {Pool::Last, Pool::Mean}) {
        ModelConfig model = small_model(cell);
        model.layers = 2;
        model.bidirectional = true;
        model.pool = pool;
        SCOPED_TRACE(enum_name(math) + " " + describe(model, Padding::Packed));
        BackendOptions options;
        options.math = math;
        auto [cpu, gpu] = test::twin_backends(model, small_optim(), set, 23, options);
        for (size_t step = 0; step < 5; ++step) {
          cpu->train_step(Slot::Train, batches[step], small_optim().lr);
          gpu->train_step(Slot::Train, batches[step], small_optim().lr);
          const std::vector<float> gc = cpu->last_gradient(), gg = gpu->last_gradient();
          ASSERT_EQ(gc.size(), ParamLayout(model).total);
          ASSERT_EQ(gg.size(), gc.size());
          const BlockErrors e = block_errors(model, gg, gc);
          EXPECT_LE(e.worst(), grad_bound) << "step " << step << ": " << format(e);
          const BatchStats cs = cpu->take_stats(), gs = gpu->take_stats();
          EXPECT_EQ(gs.skipped, 0) << "step " << step;
          EXPECT_LE(std::abs(gs.loss_sum - cs.loss_sum), kReducedLossBound * std::abs(cs.loss_sum)) << "step " << step;
        }
      }
}

class Fp16LossScaling : public test::GpuTest {};

// Zero entries of `g` where `reference` is not zero: gradients lost to fp16 underflow.
size_t underflowed(const std::vector<float>& g, const std::vector<float>& reference) {
  size_t n = 0;
  for (size_t i = 0; i < g.size(); ++i) n += g[i] == 0.0f && reference[i] != 0.0f;
  return n;
}

// Reviews of 1200+ tokens, mean pooling: each step's output gradient is dfeatures / 1200 /
// B, deep in fp16's subnormal range (below 6e-5) unscaled. With the loss scale the fp16
// gradient stays close to fp32 and loses (almost) nothing to underflow; unscaled loses more.
TEST_F(Fp16LossScaling, LongSequenceGradientsSurvive) {
  ModelConfig model = small_model(Cell::Gru);
  model.pool = Pool::Mean;
  model.vocab_size = 400;
  const TokenizedSplit set = [] {
    Rng rng(3);
    TokenizedSplit s;
    std::vector<int32_t> ids;
    for (int r = 0; r < 8; ++r) {
      ids.resize(1200 + rng.below(200));
      for (auto& id : ids) id = static_cast<int32_t>(2 + rng.below(398));
      s.add(ids.data(), ids.size(), static_cast<uint8_t>(r % 2));
    }
    return s;
  }();
  Rng rng(4);
  const Batch batch = make_batches(set, 8, BatchOrder::Sequential, Padding::Packed, rng).front();
  ASSERT_GE(batch.steps, 1200);

  auto gradient = [&](RnnMath math, float loss_scale) {
    BackendOptions options;
    options.math = math;
    options.loss_scale = loss_scale;
    auto gpu = make_cuda_backend(model, small_optim(), options, 9);
    gpu->set_state(initial_state(model, 9));
    gpu->attach(Slot::Train, set);
    gpu->train_step(Slot::Train, batch, 1e-3f);
    EXPECT_EQ(gpu->take_stats().skipped, 0) << enum_name(math) << " scale " << loss_scale;
    return gpu->last_gradient();
  };
  const std::vector<float> fp32 = gradient(RnnMath::Fp32, 0.0f);
  const std::vector<float> scaled = gradient(RnnMath::Fp16, 0.0f);  // the default scale
  const std::vector<float> unscaled = gradient(RnnMath::Fp16, 1.0f);

  const ParamLayout layout(model);
  const auto rnn_of = [&](const std::vector<float>& g) { return slice(g, layout.rnn, layout.head_w); };
  const auto embedding_of = [&](const std::vector<float>& g) { return slice(g, layout.embedding, layout.rnn); };
  double norm = 0.0;
  for (float g : scaled) norm += static_cast<double>(g) * g;
  EXPECT_GT(norm, 0.0);
  const BlockErrors e = block_errors(model, scaled, fp32);
  RecordProperty("scaled_rel_err", format(e));
  RecordProperty("unscaled_rel_err", format(block_errors(model, unscaled, fp32)));
  EXPECT_LE(e.worst(), kFp16GradBound) << format(e);
  const size_t lost_scaled = underflowed(embedding_of(scaled), embedding_of(fp32)) + underflowed(rnn_of(scaled), rnn_of(fp32));
  const size_t lost_unscaled =
      underflowed(embedding_of(unscaled), embedding_of(fp32)) + underflowed(rnn_of(unscaled), rnn_of(fp32));
  RecordProperty("underflowed_scaled", std::to_string(lost_scaled));
  RecordProperty("underflowed_unscaled", std::to_string(lost_unscaled));
  EXPECT_LE(lost_scaled, lost_unscaled);
  EXPECT_LE(static_cast<double>(lost_scaled), 0.01 * static_cast<double>(layout.head_w - layout.embedding));
}

// The unscaling reaches Adam: without clipping (whose factor would hide a missing 1/S, since
// it divides by the scaled norm) and with weight decay (which a gradient S times too large
// would drown), three fp16 steps move the parameters as the fp32 CPU backend's do. A
// dropped 1/S makes the update's error of order one.
TEST_F(Fp16LossScaling, UnscaledUpdateWithoutClippingMatchesTheCpu) {
  for (Cell cell : {Cell::Gru, Cell::Lstm}) {
    const ModelConfig model = small_model(cell);
    const TokenizedSplit set = test::random_split(30, 40, 12, 61);
    Rng rng(8);
    const auto batches = make_batches(set, 8, BatchOrder::Random, Padding::Packed, rng);
    ASSERT_GE(batches.size(), 3u);
    OptimConfig optim = small_optim();
    optim.clip_norm = 0.0f;
    optim.weight_decay = 0.1f;
    optim.lr = 1e-2f;
    BackendOptions options;
    options.math = RnnMath::Fp16;
    auto [cpu, gpu] = test::twin_backends(model, optim, set, 5, options);
    const TrainState start = initial_state(model, 5);
    for (size_t step = 0; step < 3; ++step) {
      cpu->train_step(Slot::Train, batches[step], optim.lr);
      gpu->train_step(Slot::Train, batches[step], optim.lr);
    }
    EXPECT_EQ(gpu->take_stats().skipped, 0);
    const std::vector<float> cpu_params = cpu->state().params, gpu_params = gpu->state().params;
    ASSERT_EQ(gpu_params.size(), start.params.size());
    std::vector<float> cpu_delta(start.params.size()), gpu_delta(start.params.size());
    for (size_t i = 0; i < start.params.size(); ++i) {
      cpu_delta[i] = cpu_params[i] - start.params[i];
      gpu_delta[i] = gpu_params[i] - start.params[i];
    }
    const double err = test::relative_error(gpu_delta, cpu_delta);
    RecordProperty(std::string("update_rel_err_") + enum_name(cell), std::to_string(err));
    EXPECT_LE(err, kFp16GradBound) << enum_name(cell);
  }
}

// A loss scale so large that the scaled gradient overflows fp16: every step is skipped by
// the non-finite guard, the parameters do not move, and the loss is not counted.
TEST_F(Fp16LossScaling, OverflowIsASkippedStep) {
  const ModelConfig model = small_model(Cell::Lstm);
  const TokenizedSplit set = test::random_split(20, 40, 10, 51);
  Rng rng(6);
  const auto batches = make_batches(set, 5, BatchOrder::Random, Padding::Packed, rng);
  BackendOptions options;
  options.math = RnnMath::Fp16;
  options.loss_scale = 1e30f;
  auto gpu = make_cuda_backend(model, small_optim(), options, 3);
  const TrainState start = initial_state(model, 3);
  gpu->set_state(start);
  gpu->attach(Slot::Train, set);
  for (const Batch& batch : batches) gpu->train_step(Slot::Train, batch, 1e-2f);
  const BatchStats stats = gpu->take_stats();
  EXPECT_EQ(stats.skipped, static_cast<int64_t>(batches.size()));
  EXPECT_EQ(stats.count, 0);
  const TrainState after = gpu->state();
  EXPECT_TRUE(test::same_bits(after.params, start.params));
  EXPECT_EQ(after.adam_step, 0);
}

}  // namespace
}  // namespace rnnb

// End-to-end training speed: embedding, recurrent stack, head, loss, backward, clipping and
// Adam through the Backend interface, for every training variant of train_setup.h (each
// preset, and the default GRU on random batches packed and post-padded).
//   train_step/<device>/<variant>:  one training step on the epoch's median batch (by
//                                   computed tokens), waited for (take_stats) every step;
//   train_epoch/<device>/<variant>: one epoch over the training split in the trainer's
//                                   batch order, then the evaluation of the validation split.
// The GPU runs every variant when one is usable; the CPU runs every step and, an epoch
// taking a minute or more there, the epochs of the cell variants only, in fp32 and bf16. Quick mode trains tiny
// models on a small synthetic dataset.
//
//   bench_train [--quick] [--data=PATH] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "gpu_context.h"
#include "train/trainer.h"
#include "train_setup.h"
#include "util/error.h"

namespace rnnb::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A variant's model on one device, its data attached, with the epoch order's generator.
// Kept between the step and epoch benchmarks (and their repetitions) of one variant.
struct Session {
  std::string key;
  TrainSetup setup;
  const Dataset* data = nullptr;
  std::unique_ptr<Backend> backend;
  Rng epoch_rng;
};

Session& session_for(const TrainVariant& variant, bool gpu, const Mode& mode) {
  static std::unique_ptr<Session> current;
  const std::string key = (gpu ? "cuda/" : "cpu/") + variant.name();
  if (current && current->key == key) return *current;
  current.reset();  // frees the previous model (and its device memory) first
  auto session = std::make_unique<Session>();
  session->key = key;
  session->setup = make_train_setup(variant, mode);
  session->data = &dataset_for(session->setup, mode);
  const TrainSetup& s = session->setup;
  session->backend = gpu ? make_cuda_backend(s.model, s.optim, s.backend, s.train.seed)
                         : make_cpu_backend(s.model, s.optim, s.backend, s.train.seed);
  session->backend->attach(Slot::Train, session->data->train);
  session->backend->attach(Slot::Validation, session->data->validation);
  session->epoch_rng = Rng(s.train.seed ^ kEpochSeedMix);
  if (gpu) {
    // Warm-up: the largest batches grow every workspace and load every kernel.
    Rng rng(s.train.seed);
    std::vector<Batch> batches =
        make_batches(session->data->train, s.train.batch_size, s.train.batching, s.model.padding, rng);
    std::sort(batches.begin(), batches.end(),
              [](const Batch& a, const Batch& b) { return a.computed_tokens() > b.computed_tokens(); });
    for (size_t i = 0; i < std::min<size_t>(2, batches.size()); ++i)
      session->backend->train_step(Slot::Train, batches[i], s.optim.lr);
    session->backend->evaluate(Slot::Train, batches.front(), nullptr);
    session->backend->take_stats();
  }
  current = std::move(session);
  return *current;
}

double step_flops(const Session& session, int64_t real_tokens) {
  return 3.0 * forward_flops_per_token(session.setup.model.rnn_shape()) * static_cast<double>(real_tokens);
}

void run_step(benchmark::State& state, const TrainVariant& variant, bool gpu, const Mode& mode) {
  try {
    Session& session = session_for(variant, gpu, mode);
    const TrainSetup& s = session.setup;
    Rng rng(s.train.seed ^ kEpochSeedMix);
    std::vector<Batch> batches =
        make_batches(session.data->train, s.train.batch_size, s.train.batching, s.model.padding, rng);
    std::sort(batches.begin(), batches.end(),
              [](const Batch& a, const Batch& b) { return a.computed_tokens() < b.computed_tokens(); });
    const Batch& batch = batches[batches.size() / 2];
    Backend& backend = *session.backend;
    backend.train_step(Slot::Train, batch, s.optim.lr);
    backend.take_stats();
    for (auto _ : state) {
      backend.train_step(Slot::Train, batch, s.optim.lr);
      backend.take_stats();
    }
    set_throughput_counters(state, batch.size(), batch.real_tokens(), batch.computed_tokens(),
                            step_flops(session, batch.real_tokens()));
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

void run_epoch(benchmark::State& state, const TrainVariant& variant, bool gpu, const Mode& mode) {
  try {
    Session& session = session_for(variant, gpu, mode);
    const TrainSetup& s = session.setup;
    Backend& backend = *session.backend;
    double train_seconds = 0.0, val_seconds = 0.0, loss = 0.0, val_accuracy = 0.0;
    int64_t real = 0, computed = 0, reviews = 0, epochs = 0;
    for (auto _ : state) {
      const std::vector<Batch> batches =
          make_batches(session.data->train, s.train.batch_size, s.train.batching, s.model.padding,
                       session.epoch_rng);
      backend.take_stats();
      const auto start = Clock::now();
      for (const Batch& batch : batches) backend.train_step(Slot::Train, batch, s.optim.lr);
      const BatchStats stats = backend.take_stats();
      train_seconds += seconds_since(start);
      const EvalResult val =
          evaluate_split(backend, Slot::Validation, session.data->validation, s.train.batch_size, s.model.padding);
      val_seconds += val.seconds;
      real += stats.real_tokens;
      computed += stats.computed_tokens;
      reviews += stats.count;
      loss = stats.count ? stats.loss_sum / stats.count : 0.0;
      val_accuracy = val.accuracy;
      ++epochs;
    }
    if (epochs == 0) return;
    state.counters["train_seconds"] = train_seconds / epochs;
    state.counters["validation_seconds"] = val_seconds / epochs;
    state.counters["tokens_per_second"] = static_cast<double>(real) / train_seconds;
    state.counters["sequences_per_second"] = static_cast<double>(reviews) / train_seconds;
    state.counters["GFLOP_per_second"] = step_flops(session, real) * 1e-9 / train_seconds;
    state.counters["padding_overhead"] = static_cast<double>(computed) / static_cast<double>(real);
    state.counters["train_loss"] = loss;
    state.counters["val_accuracy"] = val_accuracy;
    state.counters["train_reviews"] = static_cast<double>(reviews / epochs);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

void register_variant(const TrainVariant& variant, bool gpu, const Mode& mode, bool with_step, bool with_epoch) {
  const std::string device = gpu ? "cuda" : "cpu";
  if (with_step) {
    auto* step = benchmark::RegisterBenchmark(("train_step/" + device + "/" + variant.name()).c_str(),
                                              [=](benchmark::State& state) { run_step(state, variant, gpu, mode); });
    step->Unit(benchmark::kMillisecond)->UseRealTime();
    if (mode.quick) step->Iterations(2);
  }
  if (!with_epoch) return;
  auto* epoch = benchmark::RegisterBenchmark(("train_epoch/" + device + "/" + variant.name()).c_str(),
                                             [=](benchmark::State& state) { run_epoch(state, variant, gpu, mode); });
  epoch->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
  // The GPU epoch is short: three epochs give a median (without --benchmark_repetitions).
  if (gpu && !mode.quick) epoch->Repetitions(3)->ReportAggregatesOnly(false);
}

}  // namespace
}  // namespace rnnb::bench

int main(int argc, char** argv) {
  using namespace rnnb;
  using namespace rnnb::bench;
  const Mode mode = parse_mode(argc, argv);
  add_common_context(mode);
  benchmark::AddCustomContext("data", mode.quick ? "synthetic (quick mode)" : "IMDB");
  std::string why;
  bool gpu = add_gpu_context(&why);
  if (gpu) {
    try {  // the backend itself must come up (cuDNN and cuBLAS load, memory allocates)
      ModelConfig probe;
      probe.vocab_size = 8;
      make_cuda_backend(probe, OptimConfig{}, BackendOptions{}, 1);
    } catch (const Error& e) {
      gpu = false;
      why = e.what();
    }
  }
  if (!gpu) std::printf("bench_train: GPU benchmarks skipped: %s\n", why.c_str());

  if (gpu)
    for (const TrainVariant& variant : train_variants()) register_variant(variant, true, mode, true, true);
  for (const TrainVariant& variant : train_variants()) register_variant(variant, false, mode, true, false);
  for (const TrainVariant& variant : cpu_epoch_variants()) register_variant(variant, false, mode, false, true);

  return run_benchmarks(argc, argv);
}

// The accuracy options end to end on the CPU: parsing and presets, checkpoints that keep
// them, models with pooling / a hidden head layer / embedding dropout that learn, early
// stopping, learning-rate halving on a plateau, and a resume that keeps the halved rate.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "cli/options.h"
#include "cli/presets.h"
#include "cli/run_config.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

TEST(AccuracyOptions, ParseIntoTheConfigurations) {
  const Options o = Options::parse("train", {"--pool", "meanmax", "--embed-dropout", "0.3", "--head-hidden", "64",
                                             "--patience", "4", "--lr-plateau", "2", "--bidirectional"});
  const ModelConfig m = model_config(o, 100);
  EXPECT_EQ(m.pool, Pool::MeanMax);
  EXPECT_FLOAT_EQ(m.embed_dropout, 0.3f);
  EXPECT_EQ(m.head_hidden, 64);
  EXPECT_EQ(m.features(), 2 * 2 * 256);
  const TrainOptions t = train_options(o);
  EXPECT_EQ(t.patience, 4);
  EXPECT_EQ(t.lr_plateau, 2);
  const ModelConfig d = model_config(Options::parse("train", {}), 100);
  EXPECT_EQ(d.pool, Pool::Last);
  EXPECT_EQ(d.embed_dropout, 0.0f);
  EXPECT_EQ(d.head_hidden, 0);
  EXPECT_EQ(train_options(Options::parse("train", {})).patience, 0);
  EXPECT_THROW(model_config(Options::parse("train", {"--pool", "sum"}), 10), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--embed-dropout", "1"}), 10), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--head-hidden", "-1"}), 10), UsageError);
  EXPECT_THROW(train_options(Options::parse("train", {"--patience", "x"})), UsageError);
}

TEST(AccuracyOptions, PresetsCarryTheirReferencesAndSettings) {
  const Options rnncell = Options::parse("train", {"--preset", "tutorial-rnncell"});
  const ModelConfig m = model_config(rnncell, 100);
  EXPECT_EQ(m.cell, Cell::RnnTanh);
  EXPECT_EQ(m.head_hidden, 256);
  EXPECT_EQ(m.hidden, 300);
  EXPECT_EQ(m.embed, 100);
  EXPECT_EQ(data_options(rnncell).max_len, 200);
  EXPECT_EQ(data_options(rnncell).max_vocab, 10002);
  EXPECT_EQ(model_config(rnncell, 100).padding, Padding::Post);
  EXPECT_FLOAT_EQ(optim_config(rnncell).lr, 1e-4f);

  const Options keras = Options::parse("train", {"--preset", "keras-simplernn"});
  EXPECT_EQ(model_config(keras, 100).padding, Padding::Pre);
  EXPECT_TRUE(data_options(keras).truncate_pre);
  EXPECT_EQ(data_options(keras).max_len, 500);
  EXPECT_EQ(train_options(keras).patience, 5);
  EXPECT_EQ(train_options(keras).lr_plateau, 3);
  EXPECT_NE(find_preset("keras-simplernn").description.find("32"), std::string::npos);

  for (const char* name : {"best-rnn", "best-gru", "best-lstm"}) {
    const Options o = Options::parse("train", {"--preset", name});
    const ModelConfig best = model_config(o, 100);
    EXPECT_EQ(best.pool, Pool::MeanMax) << name;
    EXPECT_EQ(best.padding, Padding::Packed) << name;
    EXPECT_EQ(train_options(o).chop, 50) << name;  // the recipe trials' largest gain
    EXPECT_EQ(train_options(o).select, Select::Accuracy) << name;
    EXPECT_GT(optim_config(o).clip_norm, 0.0f) << name;
    EXPECT_FALSE(find_preset(name).reference.empty()) << name;
  }
  EXPECT_EQ(model_config(Options::parse("train", {"--preset", "best-rnn"}), 100).cell, Cell::RnnTanh);
}

TEST(AccuracyOptions, CheckpointKeepsTheNewFieldsAndTheLearningRate) {
  const test::TempDir dir("opts_ckpt");
  Checkpoint c;
  c.model.cell = Cell::Gru;
  c.model.vocab_size = 6;
  c.model.embed = 3;
  c.model.hidden = 4;
  c.model.bidirectional = true;
  c.model.pool = Pool::Max;
  c.model.embed_dropout = 0.125f;
  c.model.head_hidden = 5;
  c.vocab = {"<pad>", "<unk>", "a", "b", "c", "d"};
  c.state = initial_state(c.model, 3);
  c.progress.lr = 2.5e-4f;
  c.progress.plateau_wait = 2;
  const std::string path = (dir / "m.ckpt").string();
  save_checkpoint(path, c);
  const Checkpoint r = load_checkpoint(path);
  EXPECT_EQ(r.model, c.model);
  EXPECT_EQ(r.state.params, c.state.params);
  EXPECT_EQ(r.progress.lr, 2.5e-4f);
  EXPECT_EQ(r.progress.plateau_wait, 2);
  // The hidden layer is part of the parameter count the loader checks.
  Checkpoint other = c;
  other.model.head_hidden = 0;
  other.state = initial_state(c.model, 3);  // sized for head_hidden 5
  save_checkpoint(path, other);
  EXPECT_THROW(load_checkpoint(path), Error);
}

TEST(AccuracyOptions, InitialHeadLayersAreBoundedByTheirFanIn) {
  ModelConfig m;
  m.vocab_size = 4;
  m.embed = 2;
  m.hidden = 50;
  m.pool = Pool::MeanMax;  // features 100
  m.head_hidden = 400;
  const TrainState s = initial_state(m, 1);
  const ParamLayout layout(m);
  float out_max = 0.0f, hidden_max = 0.0f;
  for (size_t i = layout.head_w; i < layout.hidden_w; ++i) out_max = std::max(out_max, std::abs(s.params[i]));
  for (size_t i = layout.hidden_w; i < layout.total; ++i) hidden_max = std::max(hidden_max, std::abs(s.params[i]));
  EXPECT_LE(out_max, 1.0f / 20.0f);     // 1/sqrt(400)
  EXPECT_GT(out_max, 0.8f / 20.0f);
  EXPECT_LE(hidden_max, 1.0f / 10.0f);  // 1/sqrt(100)
  EXPECT_GT(hidden_max, 0.8f / 10.0f);
}

struct ToyData {
  TokenizedSplit train = test::synthetic_split(600, 40, 1);
  TokenizedSplit validation = test::synthetic_split(200, 40, 2);
  TokenizedSplit test = test::synthetic_split(200, 40, 3);
};

ModelConfig toy_model() {
  ModelConfig model;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 16;
  return model;
}

TEST(AccuracyOptions, PooledModelsWithAHiddenHeadLayerLearnPackedAndPadded) {
  const ToyData data;
  const test::TempDir dir("opts_pooled");
  for (Pool pool : {Pool::Mean, Pool::Max, Pool::MeanMax})
    for (Padding padding : {Padding::Packed, Padding::Pre, Padding::Post}) {
      ModelConfig model = toy_model();
      model.cell = pool == Pool::Max ? Cell::RnnTanh : Cell::Gru;
      model.bidirectional = pool == Pool::MeanMax;
      model.pool = pool;
      model.head_hidden = 16;
      model.embed_dropout = 0.1f;
      OptimConfig optim;
      optim.lr = 0.01f;
      optim.clip_norm = 5.0f;
      TrainOptions options;
      options.epochs = 4;
      options.batch_size = 16;
      model.padding = padding;
      options.out_dir = dir.string();
      auto backend = make_cpu_backend(model, optim, BackendOptions{}, 5);
      Trainer trainer(*backend, data.train, data.validation, data.test, options, test::checkpoint_base(model, optim));
      const TrainSummary s = trainer.run(nullptr);
      EXPECT_GT(s.test.accuracy, 0.9) << enum_name(pool) << " " << enum_name(padding);
    }
}

// Embedding dropout changes training but never evaluation.
TEST(AccuracyOptions, EmbeddingDropoutActsInTrainingOnly) {
  const ToyData data;
  ModelConfig with = toy_model();
  with.embed_dropout = 0.5f;
  ModelConfig without = toy_model();
  OptimConfig optim;
  auto a = make_cpu_backend(with, optim, BackendOptions{}, 4);
  auto b = make_cpu_backend(without, optim, BackendOptions{}, 4);
  Rng rng(1);
  const std::vector<Batch> batches = make_batches(data.train, 32, BatchOrder::Random, Padding::Packed, rng);
  for (auto* backend : {a.get(), b.get()}) backend->attach(Slot::Train, data.train);
  for (auto* backend : {a.get(), b.get()}) backend->evaluate(Slot::Train, batches[0], nullptr);
  EXPECT_EQ(a->take_stats().loss_sum, b->take_stats().loss_sum);  // same initial state, no dropout
  a->train_step(Slot::Train, batches[0], 1e-3f);
  b->train_step(Slot::Train, batches[0], 1e-3f);
  EXPECT_NE(a->take_stats().loss_sum, b->take_stats().loss_sum);
  EXPECT_NE(a->state().params, b->state().params);
}

// A validation set whose labels are the opposite of the task: once the model learns, the
// validation loss only rises, so epoch 1 stays the best.
ToyData inverted_validation() {
  ToyData data;
  for (uint8_t& label : data.validation.labels) label = 1 - label;
  return data;
}

struct LoopRun {
  TrainSummary summary;
  TrainState state;
  std::string metrics;
};

LoopRun run_loop(const ToyData& data, const fs::path& dir, int epochs, int patience, int plateau,
                 const Checkpoint* resume = nullptr) {
  const ModelConfig model = toy_model();
  OptimConfig optim;
  optim.lr = 0.02f;
  TrainOptions options;
  options.epochs = epochs;
  options.batch_size = 16;
  options.patience = patience;
  options.lr_plateau = plateau;
  options.out_dir = dir.string();
  auto backend = make_cpu_backend(model, optim, BackendOptions{}, 7);
  Trainer trainer(*backend, data.train, data.validation, data.test, options, test::checkpoint_base(model, optim));
  LoopRun run;
  run.summary = trainer.run(resume);
  run.state = backend->state();
  const std::vector<uint8_t> bytes = read_file_bytes((dir / "metrics.jsonl").string());
  run.metrics.assign(bytes.begin(), bytes.end());
  return run;
}

TEST(TrainingLoop, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  const ToyData data = inverted_validation();
  const test::TempDir dir("opts_patience");
  const LoopRun run = run_loop(data, dir, 10, 2, 0);
  EXPECT_EQ(run.summary.best_epoch, 1);
  EXPECT_EQ(run.summary.epochs_run, 3);  // epochs 2 and 3 did not improve
  EXPECT_TRUE(run.summary.stopped_early);
  EXPECT_NE(run.metrics.find("\"stopped_early\":true"), std::string::npos);
  EXPECT_EQ(run.summary.test.count, 200);
}

TEST(TrainingLoop, PlateauHalvesTheLearningRateAndMetricsShowIt) {
  const ToyData data = inverted_validation();
  const test::TempDir dir("opts_plateau");
  const LoopRun run = run_loop(data, dir, 4, 0, 1);
  EXPECT_EQ(run.summary.epochs_run, 4);
  EXPECT_FALSE(run.summary.stopped_early);
  // Epochs 1 and 2 at 0.02; epoch 2 did not improve, so epoch 3 runs at 0.01, epoch 4 at 0.005.
  const auto lr_of = [&](int epoch) {
    const size_t line = run.metrics.find("\"epoch\":" + std::to_string(epoch) + ",");
    const size_t at = run.metrics.find("\"lr\":", line);
    return std::stod(run.metrics.substr(at + 5));
  };
  EXPECT_NEAR(lr_of(1), 0.02, 1e-9);
  EXPECT_NEAR(lr_of(2), 0.02, 1e-9);
  EXPECT_NEAR(lr_of(3), 0.01, 1e-9);
  EXPECT_NEAR(lr_of(4), 0.005, 1e-9);
  EXPECT_NEAR(load_checkpoint((dir / "last.ckpt").string()).progress.lr, 0.0025, 1e-9);
}

// Two epochs, then a resume to four, equals four epochs straight: the halved rate and the
// plateau counter come back from the checkpoint.
TEST(TrainingLoop, ResumeContinuesWithTheHalvedLearningRate) {
  const ToyData data = inverted_validation();
  const test::TempDir straight("opts_straight"), split("opts_split");
  const LoopRun full = run_loop(data, straight, 4, 0, 1);
  run_loop(data, split, 2, 0, 1);
  const Checkpoint last = load_checkpoint((split / "last.ckpt").string());
  EXPECT_NEAR(last.progress.lr, 0.01, 1e-9);
  const LoopRun resumed = run_loop(data, split, 4, 0, 1, &last);
  EXPECT_EQ(resumed.state.params, full.state.params);
  EXPECT_EQ(resumed.summary.test.loss, full.summary.test.loss);
  EXPECT_EQ(load_checkpoint((split / "last.ckpt").string()).progress.lr,
            load_checkpoint((straight / "last.ckpt").string()).progress.lr);
}

}  // namespace
}  // namespace rnnb

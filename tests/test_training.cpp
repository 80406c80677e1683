// Whole-trainer tests on the CPU backend: learning, determinism, the best checkpoint, and
// an end-to-end run on real IMDB reviews that must beat chance clearly.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "data/dataset.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/atomic_file.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

struct ToyRun {
  TrainSummary summary;
  TrainState state;
};

ToyRun train_toy(Cell cell, Padding padding, const fs::path& out, int epochs = 4) {
  const TokenizedSplit train = test::synthetic_split(600, 40, 1);
  const TokenizedSplit validation = test::synthetic_split(200, 40, 2);
  const TokenizedSplit test = test::synthetic_split(200, 40, 3);
  ModelConfig model;
  model.cell = cell;
  model.vocab_size = 40;
  model.embed = 8;
  model.hidden = 16;
  model.head_dropout = 0.1f;
  model.padding = padding;
  OptimConfig optim;
  optim.lr = 0.01f;
  optim.clip_norm = 5.0f;
  TrainOptions options;
  options.epochs = epochs;
  options.batch_size = 16;
  options.out_dir = out.string();
  auto backend = make_cpu_backend(model, optim, BackendOptions{}, 5);
  Trainer trainer(*backend, train, validation, test, options, test::checkpoint_base(model, optim));
  ToyRun run;
  run.summary = trainer.run(nullptr);
  run.state = backend->state();
  return run;
}

TEST(Training, EveryCellLearnsTheToyTaskPackedAndPadded) {
  const test::TempDir dir("toy");
  for (Cell cell : {Cell::Gru, Cell::Lstm, Cell::RnnTanh}) {
    for (Padding padding : {Padding::Packed, Padding::Pre}) {
      const TrainSummary s = train_toy(cell, padding, dir).summary;
      EXPECT_GT(s.test.accuracy, 0.9) << enum_name(cell) << " " << enum_name(padding);
      EXPECT_EQ(s.test.count, 200);
    }
  }
}

TEST(Training, SameSeedGivesBitIdenticalRunsAndCheckpoints) {
  const test::TempDir a("det_a"), b("det_b");
  const ToyRun x = train_toy(Cell::Gru, Padding::Packed, a, 2);
  const ToyRun y = train_toy(Cell::Gru, Padding::Packed, b, 2);
  EXPECT_EQ(x.state.params, y.state.params);
  EXPECT_EQ(x.state.adam_m, y.state.adam_m);
  EXPECT_EQ(x.summary.test.loss, y.summary.test.loss);
  auto read = [](const fs::path& p) { return read_file_bytes(p.string()); };
  EXPECT_EQ(read(a / "metrics.jsonl").size() > 0, true);
  EXPECT_EQ(read(a / "best.ckpt"), read(b / "best.ckpt"));
}

TEST(Training, WritesMetricsAndALoadableBestCheckpoint) {
  const test::TempDir dir("files");
  const ToyRun run = train_toy(Cell::Gru, Padding::Packed, dir, 2);
  const Checkpoint best = load_checkpoint((dir / "best.ckpt").string());
  const Checkpoint last = load_checkpoint((dir / "last.ckpt").string());
  EXPECT_EQ(last.progress.epochs_done, 2);
  EXPECT_EQ(best.progress.best_epoch, run.summary.best_epoch);
  const std::vector<uint8_t> metrics = read_file_bytes((dir / "metrics.jsonl").string());
  const std::string text(metrics.begin(), metrics.end());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // two epochs and the test line
  EXPECT_NE(text.find("\"event\":\"test\""), std::string::npos);
}

// A few thousand real reviews must reach clearly-better-than-chance validation accuracy:
// this catches learning regressions anywhere in data, model or optimizer.
TEST(Training, RealImdbSubsetBeatsChanceClearly) {
  RNNB_IMDB_OR_SKIP(path);
  DataOptions data;
  data.path = path;
  data.cache_dir = "";
  data.train_limit = 8000;
  data.test_limit = 1000;
  data.min_freq = 3;
  Dataset dataset = load_dataset(data, nullptr);
  // The last 200 tokens: the final state then sees each review's ending.
  for (TokenizedSplit* set : {&dataset.train, &dataset.validation, &dataset.test}) truncate_reviews(*set, 200, true);

  ModelConfig model;
  model.cell = Cell::Gru;
  model.vocab_size = dataset.vocab.size();
  model.embed = 64;
  model.hidden = 64;
  OptimConfig optim;
  optim.lr = 0.003f;
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 32;
  const test::TempDir dir("imdb");
  options.out_dir = dir.string();
  auto backend = make_cpu_backend(model, optim, BackendOptions{}, 1);
  Checkpoint base = test::checkpoint_base(model, optim);
  base.vocab = dataset.vocab.words();
  Trainer trainer(*backend, dataset.train, dataset.validation, dataset.test, options, base);
  const TrainSummary summary = trainer.run(nullptr);
  const Checkpoint best = load_checkpoint((dir / "best.ckpt").string());
  backend->set_state(best.state);
  const EvalResult val = evaluate_split(*backend, Slot::Validation, dataset.validation, 32, Padding::Packed);
  EXPECT_GE(val.accuracy, 0.70);
  EXPECT_GE(summary.test.accuracy, 0.70);
}

}  // namespace
}  // namespace rnnb

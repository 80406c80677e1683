// The training recipes of docs/ACCURACY.md on the CPU: choosing the kept epoch by loss or
// accuracy, the cosine learning-rate schedule, training on chopped segments, word dropout;
// their parsing and their place in checkpoints. (Their resume: tests/test_resume.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/run_config.h"
#include "cpu/cpu_ops.h"
#include "data/segments.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_reader.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

TEST(TrainingRecipes, ParseIntoTheConfigurations) {
  const Options o = Options::parse(
      "train", {"--select", "acc", "--lr-schedule", "cosine", "--chop", "50", "--word-dropout", "0.1"});
  const TrainOptions t = train_options(o);
  EXPECT_EQ(t.select, Select::Accuracy);
  EXPECT_EQ(t.lr_schedule, LrSchedule::Cosine);
  EXPECT_EQ(t.chop, 50);
  EXPECT_FLOAT_EQ(model_config(o, 10).word_dropout, 0.1f);
  const TrainOptions d = train_options(Options::parse("train", {}));
  EXPECT_EQ(d.select, Select::Loss);
  EXPECT_EQ(d.lr_schedule, LrSchedule::Constant);
  EXPECT_EQ(d.chop, 0);
  EXPECT_EQ(model_config(Options::parse("train", {}), 10).word_dropout, 0.0f);
  EXPECT_THROW(train_options(Options::parse("train", {"--select", "f1"})), UsageError);
  EXPECT_THROW(train_options(Options::parse("train", {"--lr-schedule", "linear"})), UsageError);
  EXPECT_THROW(train_options(Options::parse("train", {"--chop", "-5"})), UsageError);
  EXPECT_THROW(model_config(Options::parse("train", {"--word-dropout", "1"}), 10), UsageError);
}

TEST(TrainingRecipes, CheckpointKeepsThem) {
  const test::TempDir dir("recipes_ckpt");
  Checkpoint c;
  c.model.vocab_size = 5;
  c.model.embed = 2;
  c.model.hidden = 3;
  c.model.word_dropout = 0.375f;
  c.vocab = {"<pad>", "<unk>", "a", "b", "c"};
  c.state = initial_state(c.model, 1);
  c.run.train.select = Select::Accuracy;
  c.run.train.lr_schedule = LrSchedule::Cosine;
  c.run.train.chop = 64;
  c.progress.best_val_acc = 0.8125;
  const std::string path = (dir / "r.ckpt").string();
  save_checkpoint(path, c);
  const Checkpoint r = load_checkpoint(path);
  EXPECT_EQ(r.model, c.model);
  EXPECT_EQ(r.run.train.select, Select::Accuracy);
  EXPECT_EQ(r.run.train.lr_schedule, LrSchedule::Cosine);
  EXPECT_EQ(r.run.train.chop, 64);
  EXPECT_EQ(r.progress.best_val_acc, 0.8125);
}

TEST(TrainingRecipes, ChoppingKeepsEveryTokenInEvenSegments) {
  TokenizedSplit set;
  const std::vector<int> lengths = {120, 101, 50, 49, 1, 0, 7};
  int32_t next = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    std::vector<int32_t> ids(static_cast<size_t>(lengths[r]));
    for (int32_t& id : ids) id = next++;
    set.add(ids.data(), ids.size(), static_cast<uint8_t>(r % 2));
  }
  const TokenizedSplit chopped = chop_reviews(set, 50);
  std::vector<int> got;
  for (size_t i = 0; i < chopped.size(); ++i) got.push_back(chopped.length(i));
  EXPECT_EQ(got, (std::vector<int>{40, 40, 40, 34, 34, 33, 50, 49, 1, 7}));
  EXPECT_EQ(chopped.tokens, set.tokens);  // in order, none lost (the empty review adds none)
  EXPECT_EQ(chopped.labels, (std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(chop_reviews(set, 1000).size(), 6u);  // whole reviews, the empty one dropped
}

TEST(TrainingRecipes, WordDropoutReplacesRealTokensOnly) {
  std::vector<int32_t> tokens(100000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = i % 10 == 0 ? kPadId : 2 + static_cast<int32_t>(i % 7);
  const std::vector<int32_t> before = tokens;
  Rng rng(3);
  EXPECT_EQ(word_dropout(tokens.data(), static_cast<int64_t>(tokens.size()), 0.0f, rng), 0);
  EXPECT_EQ(tokens, before);
  const int64_t replaced = word_dropout(tokens.data(), static_cast<int64_t>(tokens.size()), 0.3f, rng);
  int64_t unk = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (before[i] == kPadId) {
      EXPECT_EQ(tokens[i], kPadId);
    } else if (tokens[i] != before[i]) {
      EXPECT_EQ(tokens[i], kUnkId);
      ++unk;
    }
  }
  EXPECT_EQ(unk, replaced);
  EXPECT_NEAR(static_cast<double>(replaced) / 90000.0, 0.3, 0.01);  // 90,000 real tokens
}

TEST(TrainingRecipes, ImprovementFollowsTheSelectedFigure) {
  const auto result = [](double loss, double accuracy) {
    EvalResult r;
    r.loss = loss;
    r.accuracy = accuracy;
    return r;
  };
  // Best so far: loss 0.30 at accuracy 0.88.
  EXPECT_TRUE(improves(result(0.29, 0.87), 0.30, 0.88, Select::Loss));
  EXPECT_FALSE(improves(result(0.29, 0.87), 0.30, 0.88, Select::Accuracy));
  EXPECT_FALSE(improves(result(0.35, 0.90), 0.30, 0.88, Select::Loss));
  EXPECT_TRUE(improves(result(0.35, 0.90), 0.30, 0.88, Select::Accuracy));
  EXPECT_TRUE(improves(result(0.29, 0.88), 0.30, 0.88, Select::Accuracy));   // a tie, lower loss
  EXPECT_FALSE(improves(result(0.31, 0.88), 0.30, 0.88, Select::Accuracy));  // a tie, higher loss
  EXPECT_TRUE(improves(result(9.0, 0.0), INFINITY, -1.0, Select::Accuracy));  // the first epoch
  EXPECT_TRUE(improves(result(9.0, 0.0), INFINITY, -1.0, Select::Loss));
}

TEST(TrainingRecipes, CosineFactorFallsFromOneToZero) {
  EXPECT_EQ(schedule_factor(LrSchedule::Constant, 70, 100), 1.0);
  EXPECT_DOUBLE_EQ(schedule_factor(LrSchedule::Cosine, 0, 100), 1.0);
  EXPECT_NEAR(schedule_factor(LrSchedule::Cosine, 50, 100), 0.5, 1e-12);
  EXPECT_NEAR(schedule_factor(LrSchedule::Cosine, 25, 100), 0.5 * (1 + std::sqrt(0.5)), 1e-12);
  EXPECT_NEAR(schedule_factor(LrSchedule::Cosine, 100, 100), 0.0, 1e-12);
  EXPECT_NEAR(schedule_factor(LrSchedule::Cosine, 150, 100), 0.0, 1e-12);  // past the end: stays at 0
}

// ---- The training loop with the recipes ---------------------------------------------------

struct EpochLine {
  double val_loss, val_acc, lr;
  bool best;
};

struct RecipeRun {
  TrainSummary summary;
  std::vector<EpochLine> epochs;
  std::optional<JsonFields> test;
  std::string log;
};

double number_of(const JsonFields& f, const char* key) { return f.at(key).number; }

RecipeRun run_recipe(const TrainOptions& recipe, const fs::path& dir, float word_dropout = 0.0f) {
  const TokenizedSplit train = test::synthetic_split(400, 30, 21), validation = test::synthetic_split(150, 30, 22),
                       test_set = test::synthetic_split(100, 30, 23);
  ModelConfig model;
  model.vocab_size = 30;
  model.embed = 8;
  model.hidden = 12;
  model.word_dropout = word_dropout;
  OptimConfig optim;
  optim.lr = 0.03f;
  TrainOptions options = recipe;
  options.batch_size = 16;
  options.out_dir = dir.string();
  auto backend = make_cpu_backend(model, optim, BackendOptions{}, 5);
  Trainer trainer(*backend, train, validation, test_set, options, test::checkpoint_base(model, optim));
  RecipeRun run;
  run.summary = trainer.run(nullptr);
  const std::vector<uint8_t> bytes = read_file_bytes((dir / "metrics.jsonl").string());
  run.log.assign(bytes.begin(), bytes.end());
  size_t begin = 0;
  while (begin < run.log.size()) {
    const size_t end = run.log.find('\n', begin);
    const std::optional<JsonFields> f = parse_json_object(run.log.substr(begin, end - begin));
    begin = end + 1;
    if (!f) continue;
    if (f->at("event").text == "epoch")
      run.epochs.push_back({number_of(*f, "val_loss"), number_of(*f, "val_acc"), number_of(*f, "lr"),
                            f->at("best").boolean});
    else
      run.test = f;
  }
  return run;
}

// Every epoch's "best" flag follows the selected figure: the lowest loss so far, or the
// highest accuracy so far (ties to the lower loss); the kept epoch is the last flagged one.
void expect_selection_follows(const RecipeRun& run, Select select) {
  ASSERT_FALSE(run.epochs.empty());
  double best_loss = INFINITY, best_acc = -1.0;
  int best_epoch = 0;
  for (size_t e = 0; e < run.epochs.size(); ++e) {
    const EpochLine& line = run.epochs[e];
    const bool better = select == Select::Loss ? line.val_loss < best_loss
                                               : line.val_acc > best_acc ||
                                                     (line.val_acc == best_acc && line.val_loss < best_loss);
    EXPECT_EQ(line.best, better) << "epoch " << e + 1;
    if (better) best_loss = line.val_loss, best_acc = line.val_acc, best_epoch = static_cast<int>(e) + 1;
  }
  EXPECT_EQ(run.summary.best_epoch, best_epoch);
  EXPECT_DOUBLE_EQ(run.summary.best_val_acc, best_acc);
  ASSERT_TRUE(run.test.has_value());
  EXPECT_EQ(run.test->at("select").text, enum_name(select));
  EXPECT_DOUBLE_EQ(number_of(*run.test, "best_val_acc"), best_acc);
}

TEST(TrainingRecipes, TheKeptEpochFollowsTheSelectedFigure) {
  for (Select select : {Select::Loss, Select::Accuracy}) {
    const test::TempDir dir("recipes_select");
    TrainOptions options;
    options.epochs = 8;
    options.select = select;
    expect_selection_follows(run_recipe(options, dir), select);
  }
}

TEST(TrainingRecipes, CosineScheduleFallsFromTheRateToZero) {
  const test::TempDir dir("recipes_cosine");
  TrainOptions options;
  options.epochs = 4;
  options.lr_schedule = LrSchedule::Cosine;
  const RecipeRun run = run_recipe(options, dir);
  ASSERT_EQ(run.epochs.size(), 4u);
  const double steps_per_epoch = 25;  // 400 reviews in batches of 16
  const double total = 4 * steps_per_epoch;
  for (int e = 0; e < 4; ++e) {
    const double last_step = (e + 1) * steps_per_epoch - 1;  // the rate each line shows
    EXPECT_NEAR(run.epochs[e].lr, 0.03 * 0.5 * (1 + std::cos(std::numbers::pi * last_step / total)), 1e-6) << e;
  }
  EXPECT_LT(run.epochs[3].lr, 1e-4);
  EXPECT_GT(run.summary.test.accuracy, 0.7);  // it still learns the toy task
}

TEST(TrainingRecipes, ChoppedTrainingSeesEveryTokenAndTestsWholeReviews) {
  const test::TempDir whole("recipes_whole"), chopped("recipes_chopped");
  TrainOptions options;
  options.epochs = 2;
  const RecipeRun reviews = run_recipe(options, whole);
  options.chop = 4;
  const RecipeRun segments = run_recipe(options, chopped);
  const auto real_tokens = [](const std::string& log) {
    const size_t at = log.find("\"real_tokens\":");
    return std::stoll(log.substr(at + 14));
  };
  EXPECT_EQ(real_tokens(segments.log), real_tokens(reviews.log));
  EXPECT_EQ(segments.summary.test.count, 100);  // whole test reviews
  EXPECT_NE(segments.summary.test.loss, reviews.summary.test.loss);
  EXPECT_GT(segments.summary.test.accuracy, 0.7);
}

TEST(TrainingRecipes, WordDropoutChangesTrainingOnly) {
  const test::TempDir plain("recipes_plain"), dropped("recipes_dropped");
  TrainOptions options;
  options.epochs = 2;
  const RecipeRun a = run_recipe(options, plain), b = run_recipe(options, dropped, 0.25f);
  EXPECT_NE(a.summary.test.loss, b.summary.test.loss);
  EXPECT_GT(b.summary.test.accuracy, 0.7);
  // Evaluation drops no tokens: the same parameters evaluate alike with and without it.
  const Checkpoint best = load_checkpoint((dropped / "best.ckpt").string());
  ASSERT_EQ(best.model.word_dropout, 0.25f);
  ModelConfig without = best.model;
  without.word_dropout = 0.0f;
  const TokenizedSplit test_set = test::synthetic_split(100, 30, 23);
  std::vector<double> losses;
  for (const ModelConfig& model : {best.model, without}) {
    auto backend = make_cpu_backend(model, best.optim, BackendOptions{}, 9);
    backend->set_state(best.state);
    backend->attach(Slot::Test, test_set);
    losses.push_back(evaluate_split(*backend, Slot::Test, test_set, 16, model.padding).loss);
  }
  EXPECT_EQ(losses[0], losses[1]);
}

}  // namespace
}  // namespace rnnb

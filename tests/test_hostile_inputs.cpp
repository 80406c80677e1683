// Corrupt and hostile inputs through the real rnnbench binary (the user-facing message is
// the point: one "rnnbench: error:" line and exit 1, or a warning and a recovery), and
// numerical faults in training (NaN/Inf: stop with the last good checkpoints, or skip).
// Reader-level damage (bad tar checksums, absurd sizes, bit flips in checkpoints) is
// covered by test_gzip_tar.cpp, test_dataset.cpp and test_checkpoint.cpp.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/cli_runner.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/atomic_file.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

using test::CliResult;

std::string last_line(const std::string& text) {
  const size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  const size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

// Exit 1 with the error as the last line, and nothing that looks like a crash.
void expect_clean_error(const CliResult& r, const std::string& needle, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << what << ": " << r.output;
  const std::string line = last_line(r.output);
  EXPECT_EQ(line.rfind("rnnbench: error: ", 0), 0u) << what << ": " << r.output;
  EXPECT_NE(line.find(needle), std::string::npos) << what << ": " << r.output;
  for (const char* crash : {"terminate called", "Segmentation", "Aborted", "AddressSanitizer", "runtime error"})
    EXPECT_EQ(r.output.find(crash), std::string::npos) << what << ": " << r.output;
}

std::vector<uint8_t> read_bytes(const fs::path& p) { return read_file_bytes(p.string()); }
void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A small aclImdb tree whose reviews include the awkward ones: invalid UTF-8, NUL bytes,
// control characters, empty and whitespace-only files, and one review of 1 MB.
class HostileData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("hostile");
    const std::vector<std::string> awkward = {
        std::string("\xff\xfe broken \x80\x81 utf-8 \xc0\xaf overlong \xed\xa0\x80 surrogate"),
        std::string("nul\0inside the\0text", 20),
        "",
        " \t\n\r\v\f ",
        "\x01\x02\x1b[31m escape codes \x7f",
        "<br /><br /><BR /><br/>",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 \xf0\x9f\x98\x80 emoji",
    };
    std::string huge;
    while (huge.size() < (1u << 20)) huge += "a very long review that goes on and on ";
    Rng rng(5);
    for (const char* split : {"train", "test"}) {
      for (const char* label : {"pos", "neg"}) {
        const fs::path folder = *dir_ / "data/aclImdb" / split / label;
        fs::create_directories(folder);
        const bool positive = std::string(label) == "pos";
        for (int i = 0; i < 60; ++i) {
          std::string text = positive ? "good fine great " : "bad poor awful ";
          for (int w = 0; w < 10; ++w) text += std::to_string(rng.below(50)) + " ";
          if (i < static_cast<int>(awkward.size())) text = awkward[i];
          if (i == 20 && std::string(split) == "train") text = huge;
          std::ofstream(folder / (std::to_string(i) + (positive ? "_9" : "_1") + ".txt"), std::ios::binary) << text;
        }
      }
    }
    const std::string tar = "tar -czf " + (*dir_ / "imdb.tar.gz").string() + " -C " + (*dir_ / "data").string() + " aclImdb";
    ASSERT_EQ(std::system(tar.c_str()), 0);
  }
  static void TearDownTestSuite() {
    delete dir_;
  }
  static std::string archive() { return (*dir_ / "imdb.tar.gz").string(); }
  static std::string train_args(const std::string& data, const fs::path& out) {
    return "train --device cpu --data " + data + " --cache-dir '' --min-freq 1 --embed 8 --hidden 8 --epochs 2 "
           "--max-len 200 --batch-size 16 --progress off --out " + out.string();
  }
  static test::TempDir* dir_;
};
test::TempDir* HostileData::dir_ = nullptr;

TEST_F(HostileData, AwkwardReviewsTrainAndPredict) {
  const fs::path out = *dir_ / "run";
  CliResult r = test::run_rnnbench(train_args(archive(), out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on 120 reviews"), std::string::npos) << r.output;  // every test review, none lost
  r = test::run_rnnbench("data --data " + archive() + " --cache-dir '' --min-freq 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Prediction on hostile text, including bytes that are not UTF-8.
  r = test::run_rnnbench("predict --device cpu --checkpoint " + (out / "best.ckpt").string() + " --text \"$(printf '\\377\\376 \\200 ok')\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const double p = std::stod(r.output);
  EXPECT_TRUE(p >= 0.0 && p <= 1.0) << r.output;
  // Without --max-len the 1 MB review (about 220,000 tokens) is one sequence: fine for data.
  r = test::run_rnnbench("data --data " + archive() + " --cache-dir '' --min-freq 1 --train-limit 120");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(HostileData, DamagedArchivesAreOneLineErrors) {
  const std::vector<uint8_t> good = read_bytes(archive());
  const fs::path damaged = *dir_ / "damaged.tar.gz";
  std::vector<uint8_t> truncated(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  write_bytes(damaged, truncated);
  expect_clean_error(test::run_rnnbench("data --cache-dir '' --data " + damaged.string()), "truncated", "truncated archive");
  for (size_t at : {good.size() / 3, good.size() / 2, good.size() - 6}) {
    std::vector<uint8_t> flipped = good;
    flipped[at] ^= 0x5a;
    write_bytes(damaged, flipped);
    const CliResult r = test::run_rnnbench("data --cache-dir '' --data " + damaged.string());
    expect_clean_error(r, damaged.string(), "bit flip at " + std::to_string(at));
  }
  write_bytes(damaged, {});
  expect_clean_error(test::run_rnnbench("data --cache-dir '' --data " + damaged.string()), damaged.string(), "empty file");
}

TEST_F(HostileData, CorruptCacheIsRebuiltWithAWarning) {
  const fs::path cache = *dir_ / "cache";
  const std::string args = "data --data " + archive() + " --min-freq 1 --cache-dir " + cache.string();
  CliResult r = test::run_rnnbench(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(fs::is_empty(cache));
  const fs::path file = fs::directory_iterator(cache)->path();
  std::vector<uint8_t> bytes = read_bytes(file);
  bytes[bytes.size() / 2] ^= 0xff;
  write_bytes(file, bytes);
  r = test::run_rnnbench(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: cache"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rebuilding"), std::string::npos) << r.output;
  // Truncated to nothing: the same recovery.
  write_bytes(file, {});
  r = test::run_rnnbench(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rebuilding"), std::string::npos) << r.output;
}

TEST_F(HostileData, BadCheckpointsForResumeEvalAndPredict) {
  const fs::path out = *dir_ / "ckpt_run";
  ASSERT_EQ(test::run_rnnbench(train_args(archive(), out)).exit_code, 0);
  const std::vector<uint8_t> good = read_bytes(out / "last.ckpt");
  const fs::path bad = *dir_ / "bad.ckpt";

  write_bytes(bad, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  expect_clean_error(test::run_rnnbench("train --resume " + bad.string()), "corrupt", "truncated checkpoint");
  std::vector<uint8_t> flipped = good;
  flipped[good.size() / 2] ^= 0x01;
  write_bytes(bad, flipped);
  expect_clean_error(test::run_rnnbench("eval --device cpu --checkpoint " + bad.string()), "CRC32", "flipped checkpoint");
  expect_clean_error(test::run_rnnbench("train --resume " + (*dir_ / "absent.ckpt").string()), "does not exist", "missing");

  // A well-formed file whose model would need terabytes: refused before allocating.
  Checkpoint huge = load_checkpoint((out / "last.ckpt").string());
  huge.model.vocab_size = 1 << 24;
  huge.model.embed = 1 << 20;
  huge.vocab.clear();
  save_checkpoint(bad.string(), huge);
  expect_clean_error(test::run_rnnbench("predict --device cpu --checkpoint " + bad.string() + " --text good"), "corrupt",
                     "terabyte checkpoint");
  expect_clean_error(test::run_rnnbench("train --resume " + bad.string()), "corrupt", "terabyte checkpoint resume");
}

// ---- Numerical faults ------------------------------------------------------------------

TEST_F(HostileData, InjectedNanStopsOrIsSkippedThroughTheCli) {
  const fs::path out = *dir_ / "nan_stop";
  // 96 training reviews in batches of 16: 6 steps an epoch, so step 9 is in epoch 2.
  CliResult r = test::run_rnnbench(train_args(archive(), out), "RNNB_INJECT_NAN_AT_STEP=9");
  expect_clean_error(r, "non-finite loss or gradient at epoch 2, batch 3 (step 9)", "injected NaN");
  const Checkpoint last = load_checkpoint((out / "last.ckpt").string());
  EXPECT_EQ(last.progress.epochs_done, 1);  // the checkpoint of epoch 1, untouched
  EXPECT_TRUE(fs::exists(out / "best.ckpt"));

  const fs::path skipped = *dir_ / "nan_skip";
  r = test::run_rnnbench(train_args(archive(), skipped) + " --skip-nonfinite", "RNNB_INJECT_NAN_AT_STEP=9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(1 non-finite steps skipped)"), std::string::npos) << r.output;
  const std::vector<uint8_t> bytes = read_bytes(skipped / "metrics.jsonl");
  const std::string metrics(bytes.begin(), bytes.end());
  EXPECT_NE(metrics.find("\"epoch\":1,") , std::string::npos);
  EXPECT_NE(metrics.find("\"skipped_steps\":0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\"skipped_steps\":1"), std::string::npos) << metrics;
  EXPECT_EQ(load_checkpoint((skipped / "last.ckpt").string()).state.adam_step, 2 * 6 - 1);
}

struct ToyFault {
  TokenizedSplit train = test::synthetic_split(320, 30, 1), validation = test::synthetic_split(64, 30, 2),
           test = test::synthetic_split(64, 30, 3);
  ModelConfig model;
  OptimConfig optim;
  Checkpoint base;
  ToyFault() {
    model.vocab_size = 30;
    model.embed = 4;
    model.hidden = 8;
    base.model = model;
    for (int i = 0; i < 30; ++i) base.vocab.push_back(std::to_string(i));
  }
  TrainOptions options(const fs::path& out, bool skip) const {
    TrainOptions o;
    o.epochs = 3;
    o.batch_size = 16;  // 20 steps an epoch
    o.out_dir = out.string();
    o.skip_nonfinite = skip;
    return o;
  }
};

TEST(NumericalFaults, SkippedStepChangesNothingAndIsCounted) {
  ToyFault toy;
  const test::TempDir out("nan");
  BackendHooks poisoned;
  poisoned.inject_nan_at_step = 25;
  auto backend = make_cpu_backend(toy.model, toy.optim, BackendOptions{}, 3, poisoned);
  Trainer(*backend, toy.train, toy.validation, toy.test, toy.options(out, true), toy.base).run(nullptr);
  const TrainState state = backend->state();
  EXPECT_EQ(state.adam_step, 3 * 20 - 1);
  for (float v : state.params) ASSERT_TRUE(std::isfinite(v));

  // The step itself: a poisoned step leaves parameters, moments and the step count alone.
  auto a = make_cpu_backend(toy.model, toy.optim, BackendOptions{}, 3, poisoned);
  a->attach(Slot::Train, toy.train);
  Rng order(1);
  const std::vector<Batch> batches = make_batches(toy.train, 16, BatchOrder::Sequential, Padding::Packed, order);
  for (int i = 0; i < 24; ++i) a->train_step(Slot::Train, batches[i % batches.size()], 0.001f);
  const BatchStats before_stats = a->take_stats();
  EXPECT_EQ(before_stats.skipped, 0);
  const TrainState before = a->state();
  a->train_step(Slot::Train, batches[4], 0.001f);
  const BatchStats stats = a->take_stats();
  EXPECT_EQ(stats.skipped, 1);
  EXPECT_EQ(stats.first_skipped, 0);
  EXPECT_EQ(stats.count, 0);  // its loss is not in the sums
  const TrainState after = a->state();
  EXPECT_EQ(after.params, before.params);
  EXPECT_EQ(after.adam_m, before.adam_m);
  EXPECT_EQ(after.adam_v, before.adam_v);
  EXPECT_EQ(after.adam_step, before.adam_step);
  fs::remove_all(out);
}

TEST(NumericalFaults, OverflowingLearningRateStopsAndKeepsTheCheckpoints) {
  // A real fault, not an injected one: a learning rate so large that the parameters and
  // then the logits overflow.
  ToyFault toy;
  const test::TempDir out("overflow");
  // A sane first epoch writes the checkpoints the fault must not touch.
  {
    auto backend = make_cpu_backend(toy.model, toy.optim, BackendOptions{}, 3);
    TrainOptions o = toy.options(out, false);
    o.epochs = 1;
    Trainer(*backend, toy.train, toy.validation, toy.test, o, toy.base).run(nullptr);
  }
  const std::vector<uint8_t> best = read_file_bytes((out / "best.ckpt").string());
  const std::vector<uint8_t> last = read_file_bytes((out / "last.ckpt").string());
  // Then a fresh run into the same folder that overflows in its first epoch.
  OptimConfig wild = toy.optim;
  wild.lr = 1e38f;
  auto backend = make_cpu_backend(toy.model, wild, BackendOptions{}, 3);
  Checkpoint base = toy.base;
  base.optim = wild;
  try {
    Trainer(*backend, toy.train, toy.validation, toy.test, toy.options(out, false), base).run(nullptr);
    ADD_FAILURE() << "training with lr 1e38 did not stop";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.find("non-finite") != std::string::npos || message.find("not finite") != std::string::npos)
        << message;
    EXPECT_NE(message.find("epoch 1"), std::string::npos) << message;
  }
  EXPECT_EQ(read_file_bytes((out / "best.ckpt").string()), best);
  EXPECT_EQ(read_file_bytes((out / "last.ckpt").string()), last);
  fs::remove_all(out);
}

}  // namespace
}  // namespace rnnb

// Interruption and resume: a run stopped by SIGTERM/SIGINT (a real signal to the rnnbench
// binary, or the RNNB_INTERRUPT_AFTER_STEPS hook at chosen steps) and resumed with --resume
// ends with exactly the checkpoints and metrics of an uninterrupted run on the CPU.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "support/cli_runner.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/trainer.h"
#include "util/atomic_file.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path.string());
  return {bytes.begin(), bytes.end()};
}

// metrics.jsonl without the wall-clock fields, which differ between any two runs.
std::string metrics_without_timing(const fs::path& path) {
  const std::string text = read_text(path);
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = std::string::npos, key_length = 0;
    for (const char* key : {"\"train_seconds\":", "\"val_seconds\":", "\"tokens_per_s\":", "\"mean_epoch_seconds\":"})
      if (const size_t found = text.find(key, pos); found < at) at = found, key_length = std::strlen(key);
    if (at == std::string::npos) break;
    out.append(text, pos, at + key_length - pos);
    out += 'T';
    pos = text.find_first_of(",}", at + key_length);
  }
  if (pos < text.size()) out.append(text, pos, std::string::npos);
  return out;
}

void expect_same_state(const Checkpoint& a, const Checkpoint& b, const std::string& what) {
  EXPECT_EQ(a.state.params, b.state.params) << what;
  EXPECT_EQ(a.state.adam_m, b.state.adam_m) << what;
  EXPECT_EQ(a.state.adam_v, b.state.adam_v) << what;
  EXPECT_EQ(a.state.adam_step, b.state.adam_step) << what;
  EXPECT_EQ(a.state.dropout_rng, b.state.dropout_rng) << what;
  EXPECT_EQ(a.progress.epochs_done, b.progress.epochs_done) << what;
  EXPECT_EQ(a.progress.global_step, b.progress.global_step) << what;
  EXPECT_EQ(a.progress.best_epoch, b.progress.best_epoch) << what;
  EXPECT_EQ(a.progress.best_val_loss, b.progress.best_val_loss) << what;
  EXPECT_EQ(a.progress.epoch_rng, b.progress.epoch_rng) << what;
}

// ---- In-process runs with the step hook ------------------------------------------------

// Two stacked GRU layers with dropout between them and on the head, clipping, random batch
// order: every piece of state a resume must restore is in play.
class ToyRuns : public ::testing::Test {
 protected:
  static constexpr int kEpochs = 3;

  ToyRuns()
      : train_(test::synthetic_split(300, 30, 11)),
        validation_(test::synthetic_split(80, 30, 12)),
        test_(test::synthetic_split(80, 30, 13)) {
    model_.cell = Cell::Gru;
    model_.vocab_size = 30;
    model_.embed = 6;
    model_.hidden = 8;
    model_.layers = 2;
    model_.rnn_dropout = 0.3f;
    model_.head_dropout = 0.2f;
    optim_.lr = 0.01f;
    optim_.clip_norm = 1.0f;
    base_.model = model_;
    base_.optim = optim_;
    for (int i = 0; i < model_.vocab_size; ++i) {
      std::string word = "w";
      word += std::to_string(i);
      base_.vocab.push_back(word);
    }
  }

  TrainOptions options(const fs::path& out, int64_t interrupt_after = 0) const {
    TrainOptions o = recipe_;
    o.epochs = kEpochs;
    o.batch_size = 16;  // 19 batches an epoch
    o.batching = BatchOrder::Random;
    o.seed = 7;
    o.out_dir = out.string();
    o.hooks.interrupt_after_steps = interrupt_after;
    return o;
  }

  // Runs to the end, interrupting after each of `stops` (global steps) and resuming from
  // last.ckpt with a fresh backend built from another seed (so nothing survives in memory).
  int run_with_stops(const fs::path& out, const std::vector<int64_t>& stops) {
    int interruptions = 0;
    std::optional<Checkpoint> resume;
    for (size_t attempt = 0; attempt <= stops.size(); ++attempt) {
      auto backend = make_cpu_backend(model_, optim_, BackendOptions{}, 1000 + attempt);
      Trainer trainer(*backend, train_, validation_, test_,
                      options(out, attempt < stops.size() ? stops[attempt] : 0), base_);
      try {
        trainer.run(resume ? &*resume : nullptr);
        clear_interrupt();
        return interruptions;
      } catch (const Interrupted& e) {
        clear_interrupt();
        ++interruptions;
        EXPECT_NE(std::string(e.what()).find("resume with: rnnbench train --resume"), std::string::npos) << e.what();
        resume = load_checkpoint((out / "last.ckpt").string());
      }
    }
    return interruptions;
  }

  // Set the model's word dropout too, then call use_recipe() before the runs.
  void use_recipe() { base_.model = model_; }

  TokenizedSplit train_, validation_, test_;
  TrainOptions recipe_;  // the training options options() starts from
  ModelConfig model_;
  OptimConfig optim_;
  Checkpoint base_;
};

TEST_F(ToyRuns, InterruptedAnywhereAndResumedEndsBitIdentical) {
  const test::TempDir reference("resume_reference");
  {
    auto backend = make_cpu_backend(model_, optim_, BackendOptions{}, 1000);
    Trainer(*backend, train_, validation_, test_, options(reference), base_).run(nullptr);
  }
  const std::string reference_last = read_text(reference / "last.ckpt");
  const std::string reference_best = read_text(reference / "best.ckpt");
  ASSERT_EQ(load_checkpoint((reference / "last.ckpt").string()).progress.global_step, 3 * 19);

  // Mid-epoch, the first and the last step of an epoch, several stops in one run.
  const std::vector<std::vector<int64_t>> cases = {{7}, {1}, {19}, {20}, {5, 23, 38, 56}};
  for (const auto& stops : cases) {
    const std::string what = "stops at " + ::testing::PrintToString(stops);
    const test::TempDir out("resume_stopped");
    EXPECT_EQ(run_with_stops(out, stops), static_cast<int>(stops.size())) << what;
    // Whole files: parameters, Adam moments and step, dropout and data-order RNGs, best
    // tracking and progress all match, byte for byte.
    EXPECT_TRUE(read_text(out / "last.ckpt") == reference_last) << what;
    EXPECT_TRUE(read_text(out / "best.ckpt") == reference_best) << what;
    EXPECT_EQ(metrics_without_timing(out / "metrics.jsonl"), metrics_without_timing(reference / "metrics.jsonl"))
        << what;
  }
}

// Word dropout, chopped segments, the cosine schedule and selection by accuracy keep their
// state across a resume too: the word-dropout draws, the schedule's step, the best accuracy.
TEST_F(ToyRuns, RecipeOptionsResumeBitIdentical) {
  model_.word_dropout = 0.2f;
  use_recipe();
  recipe_.select = Select::Accuracy;
  recipe_.lr_schedule = LrSchedule::Cosine;
  recipe_.chop = 6;
  const test::TempDir reference("resume_recipe_reference");
  {
    auto backend = make_cpu_backend(model_, optim_, BackendOptions{}, 1000);
    Trainer(*backend, train_, validation_, test_, options(reference), base_).run(nullptr);
  }
  const Checkpoint last = load_checkpoint((reference / "last.ckpt").string());
  ASSERT_GT(last.progress.global_step, 3 * 19);  // segments: more batches than reviews give
  EXPECT_GE(last.progress.best_val_acc, 0.0);
  const int64_t per_epoch = last.progress.global_step / 3;  // the last step of epoch 1 too
  for (const std::vector<int64_t>& stops :
       {std::vector<int64_t>{9}, std::vector<int64_t>{per_epoch}, std::vector<int64_t>{4, 31, 50}}) {
    const std::string what = "stops at " + ::testing::PrintToString(stops);
    const test::TempDir out("resume_recipe");
    EXPECT_EQ(run_with_stops(out, stops), static_cast<int>(stops.size())) << what;
    EXPECT_TRUE(read_text(out / "last.ckpt") == read_text(reference / "last.ckpt")) << what;
    EXPECT_TRUE(read_text(out / "best.ckpt") == read_text(reference / "best.ckpt")) << what;
    EXPECT_EQ(metrics_without_timing(out / "metrics.jsonl"), metrics_without_timing(reference / "metrics.jsonl"))
        << what;
  }
}

TEST_F(ToyRuns, ResumeDropsMetricsLinesAheadOfItsCheckpoint) {
  // A crash between the metrics line of an epoch and its last.ckpt leaves a line the
  // checkpoint does not know: resuming rewrites that epoch and the line exactly once.
  const test::TempDir reference("resume_ref_lines"), out("resume_lines");
  {
    auto backend = make_cpu_backend(model_, optim_, BackendOptions{}, 1000);
    Trainer(*backend, train_, validation_, test_, options(reference), base_).run(nullptr);
  }
  // Stopped in epoch 2, then the metrics of later epochs appear beside its last.ckpt.
  auto first = make_cpu_backend(model_, optim_, BackendOptions{}, 1000);
  EXPECT_THROW(Trainer(*first, train_, validation_, test_, options(out, 30), base_).run(nullptr), Interrupted);
  clear_interrupt();
  write_file_atomic((out / "metrics.jsonl").string(), read_text(reference / "metrics.jsonl"));
  const Checkpoint resume = load_checkpoint((out / "last.ckpt").string());
  ASSERT_EQ(resume.progress.epochs_done, 1);
  auto backend = make_cpu_backend(model_, optim_, BackendOptions{}, 5);
  Trainer(*backend, train_, validation_, test_, options(out), base_).run(&resume);
  EXPECT_EQ(metrics_without_timing(out / "metrics.jsonl"), metrics_without_timing(reference / "metrics.jsonl"));
}

// ---- The rnnbench binary and real signals -----------------------------------------------

// A small aclImdb tree of generated reviews: positive ones lean on a few words, negative
// ones on others, so the model learns something and the run is like a real one.
void write_synthetic_imdb(const fs::path& root, int train_per_label, int test_per_label) {
  const std::vector<std::string> common = {"the", "a", "film", "movie", "plot", "actor", "scene", "and", "it", "was"};
  const std::vector<std::string> good = {"great", "superb", "moving", "fun"};
  const std::vector<std::string> bad = {"dull", "awful", "boring", "mess"};
  Rng rng(3);
  for (const char* split : {"train", "test"}) {
    const int count = std::string(split) == "train" ? train_per_label : test_per_label;
    for (const char* label : {"pos", "neg"}) {
      const fs::path dir = root / "aclImdb" / split / label;
      fs::create_directories(dir);
      const bool positive = std::string(label) == "pos";
      for (int i = 0; i < count; ++i) {
        std::string text;
        const int words = 5 + static_cast<int>(rng.below(40));
        for (int w = 0; w < words; ++w) {
          const uint64_t pick = rng.below(10);
          const auto& pool = pick < 2 ? (positive ? good : bad) : pick < 3 ? (positive ? bad : good) : common;
          text += pool[rng.below(pool.size())] + (w % 9 == 8 ? ". " : " ");
        }
        std::ofstream(dir / (std::to_string(i) + "_" + (positive ? "8" : "2") + ".txt")) << text;
      }
    }
  }
}

using test::CliResult;

class SignalResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("resume_signal");
    write_synthetic_imdb(*dir_ / "data", 600, 100);
  }
  static void TearDownTestSuite() {
    delete dir_;
  }

  std::vector<std::string> train_args(const fs::path& out) const {
    return {"train", "--device", "cpu", "--data", (*dir_ / "data/aclImdb").string(), "--cache-dir", "",
            "--min-freq", "1", "--cell", "lstm", "--layers", "2", "--dropout", "0.2", "--head-dropout", "0.2",
            "--embed", "16", "--hidden", "32", "--batch-size", "8", "--epochs", "4", "--clip-norm", "1",
            "--threads", "1", "--progress", "off", "--out", out.string()};
  }

  // Signals a training child at a known step of its second epoch, then resumes it. The
  // child waits at that step until the signal has arrived (RNNB_AWAIT_SIGNAL_AT_STEP), so
  // the real signal path is exercised at the same point on a machine of any speed.
  void interrupt_and_resume(int signal_number, const std::string& name) {
    const fs::path reference = *dir_ / ("reference_" + name), out = *dir_ / name;
    const CliResult done = test::run_rnnbench(train_args(reference), *dir_ / (name + "_reference.log"));
    ASSERT_EQ(done.exit_code, 0) << done.output;

    constexpr int64_t kStopStep = 150;  // 120 steps an epoch
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = test::spawn_rnnbench(train_args(out), *dir_ / (name + ".log"),
                                             {{"RNNB_AWAIT_SIGNAL_AT_STEP", std::to_string(kStopStep)},
                                              {"RNNB_AWAIT_SIGNAL_READY_FD", std::to_string(ready[1])}});
    ::close(ready[1]);
    char byte = 0;
    const ssize_t got = ::read(ready[0], &byte, 1);  // returns 0 if the child ends first
    ::close(ready[0]);
    if (got != 1) {
      ::kill(child, SIGKILL);
      const CliResult early = test::wait_rnnbench(child, *dir_ / (name + ".log"));
      FAIL() << "the child ended before step " << kStopStep << ": " << early.output;
    }
    ASSERT_EQ(::kill(child, signal_number), 0);
    const CliResult stopped = test::wait_rnnbench(child, *dir_ / (name + ".log"));
    ASSERT_EQ(stopped.exit_code, 130) << stopped.output;
    EXPECT_NE(stopped.output.find("resume with: rnnbench train --resume " + out.string() + "/last.ckpt"),
              std::string::npos)
        << stopped.output;
    const Checkpoint partial = load_checkpoint((out / "last.ckpt").string());
    EXPECT_EQ(partial.progress.epochs_done, 1);
    EXPECT_EQ(partial.progress.global_step, kStopStep);
    EXPECT_EQ(partial.progress.next_batch, kStopStep - 120);

    const CliResult resumed =
        test::run_rnnbench({"train", "--resume", (out / "last.ckpt").string()}, *dir_ / (name + "_resumed.log"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming at epoch"), std::string::npos) << resumed.output;

    for (const char* file : {"last.ckpt", "best.ckpt"}) {
      const Checkpoint a = load_checkpoint((reference / file).string());
      const Checkpoint b = load_checkpoint((out / file).string());
      expect_same_state(a, b, std::string(file) + " after " + name);
    }
    EXPECT_EQ(metrics_without_timing(out / "metrics.jsonl"), metrics_without_timing(reference / "metrics.jsonl"));
  }

  static test::TempDir* dir_;
};
test::TempDir* SignalResume::dir_ = nullptr;

TEST_F(SignalResume, SigtermThenResumeMatchesAnUninterruptedRun) { interrupt_and_resume(SIGTERM, "sigterm"); }

TEST_F(SignalResume, SigintThenResumeMatchesAnUninterruptedRun) { interrupt_and_resume(SIGINT, "sigint"); }

TEST_F(SignalResume, StepHookStopsTheBinaryAtThatStep) {
  const fs::path out = *dir_ / "hook";
  ::setenv("RNNB_INTERRUPT_AFTER_STEPS", "37", 1);
  const CliResult stopped = test::run_rnnbench(train_args(out), *dir_ / "hook.log");
  ::unsetenv("RNNB_INTERRUPT_AFTER_STEPS");
  ASSERT_EQ(stopped.exit_code, 130) << stopped.output;
  const Checkpoint partial = load_checkpoint((out / "last.ckpt").string());
  EXPECT_EQ(partial.progress.global_step, 37);
  EXPECT_EQ(partial.state.adam_step, 37);
  EXPECT_EQ(partial.progress.epochs_done, 0);
  EXPECT_EQ(partial.progress.next_batch, 37);
}

}  // namespace
}  // namespace rnnb

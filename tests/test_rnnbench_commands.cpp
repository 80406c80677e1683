// The rnnbench binary's commands as a user runs them: --help, train / predict / eval on real
// reviews, the device fallback, and bad input (one clear line on stderr and a non-zero exit,
// never a crash or a half-written file).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/cli_runner.h"
#include "support/test_data.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

using test::CliResult;

int lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class RnnbenchCommands : public ::testing::Test {
 protected:
  test::TempDir dir_{"cli"};
};

TEST_F(RnnbenchCommands, UsageErrorsExitTwoWithOneLine) {
  for (const char* args : {"train --colour red", "train --hidden -3", "train --cell transformer", "frobnicate",
                           "train --epochs", "eval --padding post", "train --device tpu --train-limit 10"}) {
    const CliResult r = test::run_rnnbench(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(lines(r.output), 1) << args << ": " << r.output;
  }
}

TEST_F(RnnbenchCommands, HelpListsEveryOptionWithItsDefault) {
  const CliResult r = test::run_rnnbench("train --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--cell", "--hidden", "--padding", "--batching", "--device", "--seed", "--resume"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
  EXPECT_NE(r.output.find("[gru]"), std::string::npos);
  // cuDNN's dropout state is not checkpointed: --help says what that costs a resume.
  const size_t dropout = r.output.find("--dropout");
  ASSERT_NE(dropout, std::string::npos);
  EXPECT_NE(r.output.substr(dropout, r.output.find('\n', dropout) - dropout).find("not bit-identical"), std::string::npos);
}

TEST_F(RnnbenchCommands, MissingOrCorruptDatasetIsOneLineError) {
  CliResult r = test::run_rnnbench("data --data " + (dir_ / "absent.tar.gz").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  std::ofstream(dir_ / "bad.tar.gz") << "this is not a gzip file at all";
  r = test::run_rnnbench("data --cache-dir '' --data " + (dir_ / "bad.tar.gz").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error"), std::string::npos) << r.output;
}

TEST_F(RnnbenchCommands, CorruptCheckpointIsOneLineError) {
  std::ofstream(dir_ / "bad.ckpt") << "RNNBCKPT garbage";
  const CliResult r = test::run_rnnbench("predict --checkpoint " + (dir_ / "bad.ckpt").string() + " --text 'great film'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  const CliResult none = test::run_rnnbench("predict --text 'great film'");
  EXPECT_EQ(none.exit_code, 2) << none.output;
}

// Train a tiny model on real reviews, then predict, evaluate, and refuse mismatches.
TEST_F(RnnbenchCommands, TrainPredictEvalAndMismatchedCheckpoint) {
  RNNB_IMDB_OR_SKIP(data);
  const std::string out = (dir_ / "run").string();
  const std::string common = "--data " + data + " --cache-dir " + (dir_ / "cache").string() +
                             " --train-limit 500 --test-limit 200 --max-len 50";
  CliResult r = test::run_rnnbench("train --device cpu " + common + " --embed 8 --hidden 8 --epochs 1 --progress off --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("test (best epoch 1)"), std::string::npos) << r.output;
  const std::string checkpoint = out + "/best.ckpt";

  r = test::run_rnnbench("predict --device cpu --checkpoint " + checkpoint + " --text 'This film is great'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const double p = std::stod(r.output);
  EXPECT_GE(p, 0.0);
  EXPECT_LE(p, 1.0);

  // Without a GPU, --device cuda is a one-line error saying so, and --device auto says it
  // runs on the CPU, keeping CUDA's own reason after it.
  const CliResult cuda = test::run_rnnbench("predict --device cuda --checkpoint " + checkpoint + " --text 'great'");
  const CliResult fallback = test::run_rnnbench("predict --device auto --checkpoint " + checkpoint + " --text 'great'");
  EXPECT_EQ(fallback.exit_code, 0) << fallback.output;
  if (cuda.exit_code != 0) {
    EXPECT_EQ(cuda.exit_code, 1) << cuda.output;
    EXPECT_EQ(lines(cuda.output), 1) << cuda.output;
    const bool no_gpu = cuda.output.find("--device cuda: no GPU found (CUDA") != std::string::npos;
    const bool no_backend = cuda.output.find("this build has no cuDNN backend") != std::string::npos;
    EXPECT_TRUE(no_gpu || no_backend) << cuda.output;
    const char* expected = no_gpu ? "no GPU found; running on the CPU (CUDA" : "no cuDNN backend; running on the CPU";
    EXPECT_NE(fallback.output.find(expected), std::string::npos) << fallback.output;
  }

  r = test::run_rnnbench("predict --device cpu --checkpoint " + checkpoint + " --text '   '");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("empty"), std::string::npos) << r.output;

  r = test::run_rnnbench("eval --device cpu " + common + " --checkpoint " + checkpoint);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on 200 reviews"), std::string::npos) << r.output;

  // The same checkpoint against data with another vocabulary.
  r = test::run_rnnbench("eval --device cpu --data " + data + " --cache-dir '' --train-limit 300 --test-limit 50 --checkpoint " +
          checkpoint);
  EXPECT_EQ(r.exit_code, 0) << "eval applies the checkpoint's own data settings: " << r.output;
  r = test::run_rnnbench("train --device cpu " + common + " --min-freq 2 --epochs 1 --progress off --out " + out +
          " --resume " + out + "/last.ckpt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("vocabulary"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rnnb

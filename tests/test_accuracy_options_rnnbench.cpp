// The accuracy options through the rnnbench binary on a small real subset: a pooled,
// post-padded model with a hidden head layer trains with early stopping and plateau
// halving, its checkpoint evaluates to the same test accuracy, and it resumes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "support/cli_runner.h"
#include "support/test_data.h"
#include "train/checkpoint.h"
#include "util/atomic_file.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

using test::CliResult;

// "accuracy 61.50%" -> "61.50" (the first such figure; no std::regex, which trips GCC's
// maybe-uninitialized warning under the sanitizers).
std::string accuracy_in(const std::string& text) {
  const std::string key = "accuracy ";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const size_t begin = at + key.size();
    const size_t end = text.find_first_not_of("0123456789.", begin);
    if (end != begin && end != std::string::npos && text[end] == '%') return text.substr(begin, end - begin);
  }
  return "";
}

TEST(AccuracyOptionsRnnbench, PooledModelTrainsEvaluatesAndResumes) {
  RNNB_IMDB_OR_SKIP(data);
  const test::TempDir dir("optcli");
  const std::string out = (dir / "run").string();
  const std::string common = "--data " + data + " --cache-dir " + (dir / "cache").string() +
                             " --train-limit 500 --test-limit 200 --max-len 50";
  CliResult r = test::run_rnnbench("train --device cpu " + common +
                 " --embed 8 --hidden 8 --bidirectional --pool meanmax --head-hidden 8 --embed-dropout 0.1"
                 " --padding post --patience 5 --lr-plateau 1 --epochs 2 --progress off --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pool meanmax, head hidden 8"), std::string::npos) << r.output;
  const std::string trained = accuracy_in(r.output.substr(r.output.find("test (best epoch")));
  ASSERT_FALSE(trained.empty()) << r.output;

  const Checkpoint best = load_checkpoint(out + "/best.ckpt");
  EXPECT_EQ(best.model.pool, Pool::MeanMax);
  EXPECT_EQ(best.model.head_hidden, 8);
  EXPECT_FLOAT_EQ(best.model.embed_dropout, 0.1f);
  const std::vector<uint8_t> metrics = read_file_bytes(out + "/metrics.jsonl");
  EXPECT_NE(std::string(metrics.begin(), metrics.end()).find("\"lr\":"), std::string::npos);

  // The checkpoint alone restores the model, padding included: the same test accuracy.
  r = test::run_rnnbench("eval --device cpu " + common + " --checkpoint " + out + "/best.ckpt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(accuracy_in(r.output), trained) << r.output;

  r = test::run_rnnbench("train --device cpu " + common + " --epochs 3 --progress off --resume " + out + "/last.ckpt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch 3/3"), std::string::npos) << r.output;
  EXPECT_EQ(load_checkpoint(out + "/last.ckpt").model, best.model);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rnnb

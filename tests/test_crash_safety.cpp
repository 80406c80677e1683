// Crash safety of every file the engine writes: writers killed with SIGKILL at random
// moments, many times, never leave a truncated or mixed file in place of the good one, and
// temp files of dead writers are cleaned up by the next write.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/test_data.h"
#include "train/checkpoint.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnb {
namespace {

namespace fs = std::filesystem;

class CrashSafety : public ::testing::Test {
 protected:

  // A checkpoint of a few MB (so a write takes long enough to be killed in the middle),
  // told apart by its global step.
  static Checkpoint big_checkpoint(int64_t step) {
    Checkpoint c;
    c.model.cell = Cell::Lstm;
    c.model.vocab_size = 4000;
    c.model.embed = 64;
    c.model.hidden = 64;
    for (int i = 0; i < c.model.vocab_size; ++i) c.vocab.push_back(std::to_string(i));
    c.state = initial_state(c.model, static_cast<uint64_t>(step));
    c.progress.global_step = step;
    return c;
  }

  static std::string metrics_text(int64_t step) {
    std::string text;
    for (int line = 0; line < 2000; ++line) text += "{\"event\":\"epoch\",\"epoch\":" + std::to_string(step) + "}\n";
    return text;
  }

  size_t temp_files() const {
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(dir_))
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++count;
    return count;
  }

  test::TempDir dir_{"crash"};
};

TEST_F(CrashSafety, WritersKilledAtRandomMomentsNeverLeaveADamagedFile) {
  const std::string checkpoint = (dir_ / "last.ckpt").string();
  const std::string metrics = (dir_ / "metrics.jsonl").string();
  save_checkpoint(checkpoint, big_checkpoint(1));
  write_file_atomic(metrics, metrics_text(1));
  const std::vector<uint8_t> version_bytes[2] = {read_file_bytes(checkpoint),
                                                 (save_checkpoint(checkpoint, big_checkpoint(2)), read_file_bytes(checkpoint))};

  // Each writer reports every write it begins through a pipe; the test kills it with
  // SIGKILL after a random number of them, so the kill lands inside the stream of writes
  // (mostly in the middle of one) however fast the machine is, with no timing involved.
  Rng rng(42);
  int killed_mid_run = 0;
  for (int round = 0; round < 30; ++round) {
    int progress[2];
    ASSERT_EQ(::pipe(progress), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Rewrites both files alternately between the two versions until killed.
      ::close(progress[0]);
      const Checkpoint versions[2] = {big_checkpoint(1), big_checkpoint(2)};
      const char byte = 'w';
      for (int i = 0;; ++i) {
        if (::write(progress[1], &byte, 1) != 1) ::_exit(1);
        save_checkpoint(checkpoint, versions[i % 2]);
        if (::write(progress[1], &byte, 1) != 1) ::_exit(1);
        write_file_atomic(metrics, metrics_text(1 + i % 2));
      }
    }
    ::close(progress[1]);
    const uint64_t writes_begun = 1 + rng.below(6);
    uint64_t seen = 0;
    for (char byte; seen < writes_begun && ::read(progress[0], &byte, 1) == 1;) ++seen;
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    ::close(progress[0]);
    EXPECT_EQ(seen, writes_begun) << "round " << round << ": the writer ended by itself";
    int status = 0;
    ::waitpid(child, &status, 0);
    killed_mid_run += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;

    // The files in place are always one complete version or the other.
    const std::vector<uint8_t> bytes = read_file_bytes(checkpoint);
    EXPECT_TRUE(bytes == version_bytes[0] || bytes == version_bytes[1]) << "round " << round;
    const Checkpoint loaded = load_checkpoint(checkpoint);
    EXPECT_TRUE(loaded.progress.global_step == 1 || loaded.progress.global_step == 2);
    const std::vector<uint8_t> text = read_file_bytes(metrics);
    const std::string metrics_now(text.begin(), text.end());
    EXPECT_TRUE(metrics_now == metrics_text(1) || metrics_now == metrics_text(2)) << "round " << round;
  }
  EXPECT_EQ(killed_mid_run, 30);

  // The killed writers' temp files: ignored by readers above, removed by the next writes.
  save_checkpoint(checkpoint, big_checkpoint(3));
  write_file_atomic(metrics, metrics_text(3));
  EXPECT_EQ(temp_files(), 0u);
  EXPECT_EQ(load_checkpoint(checkpoint).progress.global_step, 3);
}

TEST_F(CrashSafety, OnlyTempFilesOfDeadWritersAreRemoved) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const fs::path target = dir_ / "best.ckpt";
  const fs::path stale = dir_ / ("best.ckpt.tmp." + std::to_string(dead));
  const fs::path live = dir_ / ("best.ckpt.tmp." + std::to_string(::getppid()));  // a running process
  const fs::path other = dir_ / ("last.ckpt.tmp." + std::to_string(dead));        // another file's
  const fs::path unrelated = dir_ / "best.ckpt.tmp.notapid";
  for (const fs::path& p : {stale, live, other, unrelated}) std::ofstream(p) << "partial";
  write_file_atomic(target.string(), "complete");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(unrelated));
  const std::vector<uint8_t> bytes = read_file_bytes(target.string());
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "complete");
}

TEST_F(CrashSafety, AFailedWriteKeepsThePreviousFile) {
  const std::string path = (dir_ / "results.json").string();
  write_file_atomic(path, "previous");
  {
    AtomicFile file(path);
    file.write("half of a new ver");
    // Destroyed without commit(), as when an exception unwinds mid-write.
  }
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "previous");
  EXPECT_EQ(temp_files(), 0u);
  // A folder that cannot be written: an Error naming the file, the old file untouched.
  EXPECT_THROW(write_file_atomic((dir_ / "missing_folder/x.json").string(), "x"), Error);
}

}  // namespace
}  // namespace rnnb

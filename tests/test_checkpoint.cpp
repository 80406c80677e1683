// Checkpoint round trip and detection of every kind of damage.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "support/test_data.h"
#include "train/checkpoint.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnb {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "model.ckpt").string();
  }

  static Checkpoint sample() {
    Checkpoint c;
    c.model.cell = Cell::Lstm;
    c.model.vocab_size = 5;
    c.model.embed = 3;
    c.model.hidden = 4;
    c.model.layers = 2;
    c.model.bidirectional = true;
    c.model.head_dropout = 0.25f;
    c.optim.lr = 0.002f;
    c.optim.clip_norm = 5.0f;
    c.model.padding = Padding::Post;
    c.data.path = "data/aclImdb_v1.tar.gz";
    c.data.min_freq = 5;
    c.data.max_len = 200;
    c.data.truncate_pre = true;
    c.run.train.epochs = 3;
    c.run.train.batching = BatchOrder::Random;
    c.run.train.out_dir = "results/train/lstm";
    c.run.backend.algo = RnnAlgo::PersistDynamic;
    c.run.backend.math = RnnMath::Fp16;
    c.run.device = "cuda";
    c.vocab = {"<pad>", "<unk>", "the", "film", "great"};
    c.vocab_fingerprint = 0x1234;
    c.state = initial_state(c.model, 9);
    c.state.adam_step = 17;
    c.state.adam_m[3] = 0.5f;
    c.progress.epochs_done = 2;
    c.progress.next_batch = 31;
    c.progress.global_step = 99;
    c.progress.best_val_loss = 0.3125;
    c.progress.best_epoch = 2;
    c.progress.epoch_rng = {1, 2, 3, 4};
    return c;
  }

  std::vector<uint8_t> saved_bytes() {
    save_checkpoint(path_, sample());
    return read_file_bytes(path_);
  }
  void write_bytes(const std::vector<uint8_t>& bytes) {
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  test::TempDir dir_{"ckpt"};
  std::string path_;
};

TEST_F(CheckpointTest, RoundTripIsExact) {
  const Checkpoint c = sample();
  save_checkpoint(path_, c);
  const Checkpoint r = load_checkpoint(path_);
  EXPECT_EQ(r.model, c.model);
  EXPECT_EQ(r.optim.lr, c.optim.lr);
  EXPECT_EQ(r.optim.clip_norm, c.optim.clip_norm);
  EXPECT_EQ(r.model.padding, Padding::Post);
  EXPECT_EQ(r.data, c.data);
  EXPECT_EQ(r.tokenizer_version, c.tokenizer_version);
  EXPECT_EQ(r.run.train.epochs, 3);
  EXPECT_EQ(r.run.train.batching, BatchOrder::Random);
  EXPECT_EQ(r.run.train.out_dir, c.run.train.out_dir);
  EXPECT_EQ(r.run.backend.algo, RnnAlgo::PersistDynamic);
  EXPECT_EQ(r.run.backend.math, RnnMath::Fp16);
  EXPECT_EQ(r.run.device, "cuda");
  EXPECT_EQ(r.vocab, c.vocab);
  EXPECT_EQ(r.vocab_fingerprint, c.vocab_fingerprint);
  EXPECT_EQ(r.state.params, c.state.params);
  EXPECT_EQ(r.state.adam_m, c.state.adam_m);
  EXPECT_EQ(r.state.adam_v, c.state.adam_v);
  EXPECT_EQ(r.state.adam_step, 17);
  EXPECT_EQ(r.state.dropout_rng, c.state.dropout_rng);
  EXPECT_EQ(r.progress.next_batch, 31);
  EXPECT_EQ(r.progress.global_step, 99);
  EXPECT_EQ(r.progress.best_val_loss, 0.3125);
  EXPECT_EQ(r.progress.epoch_rng, c.progress.epoch_rng);
  // No temp file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 1);
}

TEST_F(CheckpointTest, EveryFlippedByteIsDetected) {
  const std::vector<uint8_t> good = saved_bytes();
  for (size_t i = 0; i < good.size(); i += std::max<size_t>(1, good.size() / 97)) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x40;
    write_bytes(bad);
    EXPECT_THROW(load_checkpoint(path_), Error) << "byte " << i;
  }
}

TEST_F(CheckpointTest, TruncationIsDetected) {
  const std::vector<uint8_t> good = saved_bytes();
  for (size_t keep : {size_t{0}, size_t{5}, size_t{12}, good.size() / 2, good.size() - 1}) {
    write_bytes({good.begin(), good.begin() + keep});
    EXPECT_THROW(load_checkpoint(path_), Error) << keep;
  }
}

TEST_F(CheckpointTest, MissingFileAndForeignFileAreClearErrors) {
  try {
    load_checkpoint((dir_ / "absent.ckpt").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  write_bytes(std::vector<uint8_t>(100, 'x'));
  try {
    load_checkpoint(path_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an rnnbench checkpoint"), std::string::npos);
  }
}

TEST_F(CheckpointTest, SizesNeedingTerabytesAreRefusedWithoutAllocating) {
  // A well-formed file (valid CRC) whose model claims an enormous vocabulary.
  Checkpoint c = sample();
  c.model.vocab_size = 1 << 24;
  c.model.embed = 1 << 20;
  c.vocab.clear();
  c.state.params.clear();
  c.state.adam_m.clear();
  c.state.adam_v.clear();
  save_checkpoint(path_, c);
  EXPECT_THROW(load_checkpoint(path_), Error);
}

// A file from before the typed settings (format 3 and older): one line saying what to do.
TEST_F(CheckpointTest, OlderFormatIsAOneLineErrorSayingWhatToDo) {
  std::vector<uint8_t> bytes = saved_bytes();
  const uint32_t old_version = kCheckpointVersion - 1;
  std::memcpy(bytes.data() + 8, &old_version, sizeof old_version);
  write_bytes(bytes);
  try {
    load_checkpoint(path_);
    FAIL();
  } catch (const Error& e) {
    const std::string expected = "checkpoint format " + std::to_string(old_version) + " is older than this rnnbench's " +
                                 std::to_string(kCheckpointVersion) +
                                 ": retrain, or use the rnnbench version that wrote it";
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

// Enums are checked against their tables: a stored value no table names is refused.
TEST_F(CheckpointTest, UnknownEnumValuesAreRefused) {
  Checkpoint c = sample();
  c.model.padding = static_cast<Padding>(7);
  save_checkpoint(path_, c);
  EXPECT_THROW(load_checkpoint(path_), Error);
  c = sample();
  c.run.backend.math = static_cast<RnnMath>(9);
  save_checkpoint(path_, c);
  EXPECT_THROW(load_checkpoint(path_), Error);
  c = sample();
  c.run.train.batch_size = 0;
  save_checkpoint(path_, c);
  EXPECT_THROW(load_checkpoint(path_), Error);
}

TEST_F(CheckpointTest, ParameterCountMustMatchTheModel) {
  Checkpoint c = sample();
  c.state.params.pop_back();
  save_checkpoint(path_, c);
  EXPECT_THROW(load_checkpoint(path_), Error);
}

}  // namespace
}  // namespace rnnb

// Checkpoints: a versioned binary file holding the model configuration (padding included)
// and the optimizer's, the data options and vocabulary (with its fingerprint), the
// training and backend options, all parameters and optimizer state in the canonical
// layout, and the run's progress, so training resumes exactly and `eval` and `predict`
// need nothing else. Every setting is a typed field. CRC32-checked, written atomically.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/tokenizer.h"
#include "model/model_config.h"
#include "train/backend.h"
#include "train/train_options.h"

namespace rnnb {

// The format this build writes and the only one it reads (older files: retrain).
inline constexpr uint32_t kCheckpointVersion = 5;

// What a resumed run continues with besides the model: the training loop's options
// (without its test hooks and progress bar), the backend's, and the device asked for.
struct RunSettings {
  TrainOptions train;
  BackendOptions backend;
  std::string device = "auto";
};

struct RunProgress {
  int32_t epochs_done = 0;      // completed epochs
  int32_t next_batch = 0;       // batches of the current epoch already trained (resume point)
  int64_t global_step = 0;
  // The best epoch (by the selected figure) and both of its validation figures.
  double best_val_loss = std::numeric_limits<double>::infinity();
  double best_val_acc = -1.0;
  int32_t best_epoch = 0;
  std::array<uint64_t, 4> epoch_rng{};  // the batch-order RNG at the start of the current epoch
  // The current epoch's training stats and seconds up to next_batch, so an epoch resumed
  // mid-way reports the same train loss and accuracy as one that was not interrupted.
  BatchStats epoch_stats;
  double epoch_seconds = 0.0;
  // The learning rate in force before the schedule's factor (0 = the configured one;
  // --lr-plateau lowers it) and the epochs without improvement since it last changed.
  float lr = 0.0f;
  int32_t plateau_wait = 0;
};

struct Checkpoint {
  ModelConfig model;
  OptimConfig optim;
  // The dataset and the settings that define its vocabulary and splits; path and cache
  // folder are the training machine's (a resume reads them, eval and predict do not).
  DataOptions data;
  uint32_t tokenizer_version = kTokenizerVersion;  // of the tokenizer the vocabulary was counted with
  RunSettings run;
  std::vector<std::string> vocab;
  uint64_t vocab_fingerprint = 0;
  TrainState state;
  RunProgress progress;
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws Error naming the file when it is missing, truncated, corrupt or inconsistent.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace rnnb

// The training loop's options, and its test hooks. Apart from the hooks and the progress
// bar, checkpoints store these, so a resumed run continues with the options it started with.
#pragma once

#include <cstdint>
#include <string>

#include "data/batching.h"

namespace rnnb {

// Test hooks, set from the environment by the CLI; 0 = off. Not user options.
struct TrainHooks {
  // RNNB_INTERRUPT_AFTER_STEPS: behave as if SIGINT arrived once this global step is done.
  int64_t interrupt_after_steps = 0;
  // RNNB_AWAIT_SIGNAL_AT_STEP and RNNB_AWAIT_SIGNAL_READY_FD: once this global step is
  // done, tell the test through that descriptor and wait for a real SIGINT/SIGTERM.
  int64_t await_signal_at_step = 0;
  int await_signal_ready_fd = -1;
};

struct TrainOptions {
  int epochs = 5;
  // Early stopping: stop once the validation loss has not improved for this many epochs.
  int patience = 0;
  // Halve the learning rate once the validation loss has not improved for this many epochs
  // (counted again from each halving). 0 = off for both.
  int lr_plateau = 0;
  int batch_size = 64;
  BatchOrder batching = BatchOrder::Bucket;  // (the padding is the model's: ModelConfig)
  uint64_t seed = 1;
  std::string out_dir = "results/train/latest";
  bool progress = false;
  // A step with a non-finite loss or gradient: false stops training with an error (the
  // checkpoints on disk stay those from before it); true skips the step and counts it.
  bool skip_nonfinite = false;
  TrainHooks hooks;
};

}  // namespace rnnb

// The training loop shared by both backends: epochs of batches, validation after each,
// the best checkpoint by validation loss, test accuracy at the end, metrics as JSON lines,
// and interruption with a resumable checkpoint.
#pragma once

#include <functional>
#include <string>

#include "data/batching.h"
#include "train/backend.h"
#include "train/checkpoint.h"

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
  BatchOrder batching = BatchOrder::Bucket;
  Padding padding = Padding::None;
  uint64_t seed = 1;
  std::string out_dir = "results/train/latest";
  bool progress = false;
  // A step with a non-finite loss or gradient: false stops training with an error (the
  // checkpoints on disk stay those from before it); true skips the step and counts it.
  bool skip_nonfinite = false;
  TrainHooks hooks;
};

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy
  double accuracy = 0.0;  // fraction correct
  int64_t count = 0;
  double seconds = 0.0;
  double tokens_per_second = 0.0;
  bool interrupted = false;  // stopped early by a signal (only with stop_on_interrupt)
};

struct TrainSummary {
  int epochs_run = 0;
  bool stopped_early = false;  // by --patience
  int best_epoch = 0;
  double best_val_loss = 0.0;
  double mean_epoch_seconds = 0.0;  // training part of each epoch
  double tokens_per_second = 0.0;   // real training tokens over training seconds
  EvalResult test;
};

// Evaluates a whole split in sequential batches (the run's batch size and padding, so
// padded models see the padding they were trained with).
// With stop_on_interrupt, a pending Ctrl-C/SIGTERM ends it early with `interrupted` set.
EvalResult evaluate_split(Backend& backend, Slot slot, const TokenSet& set, int batch_size,
                          Padding padding, bool stop_on_interrupt = false);

class Trainer {
 public:
  // `base` carries the configuration, settings and vocabulary written into checkpoints.
  Trainer(Backend& backend, const TokenSet& train, const TokenSet& validation,
          const TokenSet& test, const TrainOptions& options, Checkpoint base);

  // Runs from the start, or from `resume` (a checkpoint's progress and state).
  TrainSummary run(const Checkpoint* resume);

 private:
  void save(const std::string& name, const TrainState& state, const RunProgress& progress);
  int longest_review() const;

  Backend& backend_;
  const TokenSet& train_;
  const TokenSet& validation_;
  const TokenSet& test_;
  TrainOptions options_;
  Checkpoint base_;
};

}  // namespace rnnb

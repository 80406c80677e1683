// The training loop shared by both backends: epochs of batches (of whole reviews, or of
// segments chopped from them), validation after each, the best checkpoint by the selected
// validation figure, the learning-rate schedule, test accuracy at the end, metrics as JSON
// lines, and interruption with a resumable checkpoint.
#pragma once

#include <functional>
#include <string>

#include "data/batching.h"
#include "train/backend.h"
#include "train/checkpoint.h"
#include "train/train_options.h"

namespace rnnb {

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
  double best_val_acc = 0.0;
  double mean_epoch_seconds = 0.0;  // training part of each epoch
  double tokens_per_second = 0.0;   // real training tokens over training seconds
  EvalResult test;
};

// Evaluates a whole split in sequential batches (the run's batch size and the model's
// padding, so padded models see the padding they were trained with).
// With stop_on_interrupt, a pending Ctrl-C/SIGTERM ends it early with `interrupted` set.
EvalResult evaluate_split(Backend& backend, Slot slot, const TokenizedSplit& set, int batch_size,
                          Padding padding, bool stop_on_interrupt = false);

// Whether an epoch's validation result beats the best so far by the selected figure: a
// lower loss, or a higher accuracy with ties going to the lower loss.
bool improves(const EvalResult& val, double best_loss, double best_acc, Select select);

// The learning-rate schedule's factor at step `step` (0-based) of a run of `total` steps.
double schedule_factor(LrSchedule schedule, int64_t step, int64_t total);

class Trainer {
 public:
  // `base` carries the configuration, settings and vocabulary written into checkpoints.
  // With options.chop, training reads segments of `train` (data/segments.h).
  Trainer(Backend& backend, const TokenizedSplit& train, const TokenizedSplit& validation,
          const TokenizedSplit& test, const TrainOptions& options, Checkpoint base);

  // train_ may refer to chopped_: a copy would refer to the original's.
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Runs from the start, or from `resume` (a checkpoint's progress and state).
  TrainSummary run(const Checkpoint* resume);

 private:
  // The steps of run(), in order (trainer.cpp).
  struct Run;
  struct EpochTraining;
  void restore(const Checkpoint* resume, Run& run);
  EpochTraining train_epoch(int epoch, Run& run);
  void validate_and_checkpoint(int epoch, const EpochTraining& trained, Run& run);
  TrainSummary finish(Run& run);

  void save(const std::string& name, const TrainState& state, const RunProgress& progress);
  int longest_review() const;

  Backend& backend_;
  TokenizedSplit chopped_;  // the training segments with --chop, else empty
  const TokenizedSplit& train_;
  const TokenizedSplit& validation_;
  const TokenizedSplit& test_;
  TrainOptions options_;
  Checkpoint base_;
};

}  // namespace rnnb

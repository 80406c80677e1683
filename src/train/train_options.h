// The training loop's options, and its test hooks. Apart from the hooks and the progress
// bar, checkpoints store these, so a resumed run continues with the options it started with.
#pragma once

#include <cstdint>
#include <string>

#include "data/batching.h"
#include "util/name_table.h"

namespace rnnb {

// Which validation figure picks the kept (best) epoch; early stopping and the plateau
// halving count epochs without improvement of the same figure.
enum class Select { Loss, Accuracy };

inline constexpr auto kSelectNames = make_name_table<Select>("--select", {
    {Select::Loss, "loss", "the lowest validation loss"},
    {Select::Accuracy, "acc", "the highest validation accuracy, ties to the lower loss"},
});
constexpr const auto& names_of(Select) { return kSelectNames; }

// The learning rate over the run's steps, times the --lr-plateau halvings.
enum class LrSchedule { Constant, Cosine };

inline constexpr auto kLrScheduleNames = make_name_table<LrSchedule>("--lr-schedule", {
    {LrSchedule::Constant, "constant", "--lr throughout"},
    {LrSchedule::Cosine, "cosine", "half a cosine from --lr down to nearly 0 at the last step of --epochs"},
});
constexpr const auto& names_of(LrSchedule) { return kLrScheduleNames; }

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
  Select select = Select::Loss;
  // Early stopping: stop once the selected validation figure has not improved for this many
  // epochs.
  int patience = 0;
  // Halve the learning rate once the selected figure has not improved for this many epochs
  // (counted again from each halving). 0 = off for both.
  int lr_plateau = 0;
  LrSchedule lr_schedule = LrSchedule::Constant;
  // Train on segments of at most this many tokens, each labelled with its review's label
  // (data/segments.h); validation and test read whole reviews. 0 = whole reviews.
  int chop = 0;
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

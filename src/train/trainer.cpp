// The training loop (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numbers>
#include <optional>

#include "data/segments.h"
#include "train/interrupt.h"
#include "train/progress.h"
#include "util/atomic_file.h"
#include "util/json.h"
#include "util/json_reader.h"

namespace rnnb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// metrics.jsonl, rewritten whole (atomically) at every line so it is never half-written.
class MetricsLog {
 public:
  MetricsLog() = default;
  explicit MetricsLog(std::string path, std::string existing = "")
      : path_(std::move(path)), text_(std::move(existing)) {}
  void append(const JsonLine& line) {
    text_ += line.str() + "\n";
    write_file_atomic(path_, text_);
  }

 private:
  std::string path_, text_;
};

// The metrics lines a resumed run keeps: the epochs its checkpoint has completed. Lines of
// later epochs (written just before a crash, ahead of last.ckpt) and earlier test lines
// are dropped, so the resumed file reads like that of an uninterrupted run. Each line is
// read as JSON and kept by its "event" and "epoch" fields.
std::string metrics_up_to(const std::string& path, int epochs_done) {
  if (!file_exists(path)) return "";
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  std::string kept;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // a partial last line cannot occur, but is dropped
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    const std::optional<JsonFields> fields = parse_json_object(line);
    if (!fields) continue;
    const auto event = fields->find("event");
    const auto epoch = fields->find("epoch");
    if (event == fields->end() || event->second.kind != JsonScalar::Kind::String || event->second.text != "epoch" ||
        epoch == fields->end() || epoch->second.kind != JsonScalar::Kind::Number)
      continue;
    const double number = epoch->second.number;
    if (number >= 1 && number <= epochs_done && number == static_cast<int>(number)) kept += line + "\n";
  }
  return kept;
}

void add_stats(BatchStats& into, const BatchStats& s) {
  into.loss_sum += s.loss_sum, into.correct += s.correct, into.count += s.count;
  into.real_tokens += s.real_tokens, into.computed_tokens += s.computed_tokens;
  into.skipped += s.skipped;
}

}  // namespace

bool improves(const EvalResult& val, double best_loss, double best_acc, Select select) {
  if (select == Select::Loss) return val.loss < best_loss;
  return val.accuracy > best_acc || (val.accuracy == best_acc && val.loss < best_loss);
}

double schedule_factor(LrSchedule schedule, int64_t step, int64_t total) {
  if (schedule == LrSchedule::Constant || total <= 0) return 1.0;
  const double done = std::clamp(static_cast<double>(step) / static_cast<double>(total), 0.0, 1.0);
  return 0.5 * (1.0 + std::cos(std::numbers::pi * done));
}

EvalResult evaluate_split(Backend& backend, Slot slot, const TokenizedSplit& set, int batch_size,
                          Padding padding, bool stop_on_interrupt) {
  const auto start = Clock::now();
  Rng unused(0);
  backend.take_stats();
  EvalResult result;
  for (const Batch& batch : make_batches(set, batch_size, BatchOrder::Sequential, padding, unused)) {
    if (stop_on_interrupt && interrupt_requested()) {
      result.interrupted = true;
      break;
    }
    backend.evaluate(slot, batch, nullptr);
  }
  const BatchStats stats = backend.take_stats();
  result.seconds = seconds_since(start);
  result.count = stats.count;
  if (stats.count > 0) {
    result.loss = stats.loss_sum / stats.count;
    result.accuracy = static_cast<double>(stats.correct) / stats.count;
  }
  result.tokens_per_second = stats.real_tokens / std::max(result.seconds, 1e-9);
  return result;
}

Trainer::Trainer(Backend& backend, const TokenizedSplit& train, const TokenizedSplit& validation,
                 const TokenizedSplit& test, const TrainOptions& options, Checkpoint base)
    : backend_(backend),
      chopped_(options.chop > 0 ? chop_reviews(train, options.chop) : TokenizedSplit{}),
      train_(options.chop > 0 ? chopped_ : train),
      validation_(validation),
      test_(test),
      options_(options),
      base_(std::move(base)) {
  if (options.chop > 0)
    std::fprintf(stderr, "training on %zu segments of at most %d tokens cut from %zu reviews\n", train_.size(),
                 options.chop, train.size());
  backend_.attach(Slot::Train, train_);
  backend_.attach(Slot::Validation, validation_);
  backend_.attach(Slot::Test, test_);
}

void Trainer::save(const std::string& name, const TrainState& state, const RunProgress& progress) {
  Checkpoint checkpoint = base_;
  checkpoint.state = state;
  checkpoint.progress = progress;
  save_checkpoint(options_.out_dir + "/" + name, checkpoint);
}

int Trainer::longest_review() const {
  int longest = 1;
  for (const TokenizedSplit* set : {&train_, &validation_, &test_})
    for (size_t i = 0; i < set->size(); ++i) longest = std::max(longest, set->length(i));
  return longest;
}

// Everything one run() carries from step to step.
struct Trainer::Run {
  explicit Run(uint64_t seed) : data_rng(seed ^ 0x243f6a8885a308d3ULL) {}
  RunProgress progress;
  Rng data_rng;
  TrainState best_state;  // empty until an epoch improves (or best.ckpt is restored)
  MetricsLog metrics;
  TrainSummary summary;
  double train_seconds_total = 0.0;
  int64_t train_tokens_total = 0;
  std::string resume_command;
};

// One epoch's training part, as validation and the checkpoints need it.
struct Trainer::EpochTraining {
  BatchStats stats;
  double seconds = 0.0;
  size_t batches = 0;
  float last_lr = 0.0f;  // the rate of the epoch's last step
};

TrainSummary Trainer::run(const Checkpoint* resume) {
  Run run(options_.seed);
  restore(resume, run);
  backend_.check_memory(options_.batch_size, longest_review());
  install_interrupt_handlers();

  for (int epoch = run.progress.epochs_done; epoch < options_.epochs; ++epoch) {
    const RunProgress& progress = run.progress;
    if (options_.patience > 0 && progress.best_epoch > 0 && epoch - progress.best_epoch >= options_.patience) {
      std::printf("early stopping: no validation improvement in %d epochs (best epoch %d)\n", options_.patience,
                  progress.best_epoch);
      run.summary.stopped_early = true;
      break;
    }
    const EpochTraining trained = train_epoch(epoch, run);
    validate_and_checkpoint(epoch, trained, run);
  }
  return finish(run);
}

// The output folder, the metrics file, and with `resume` the backend's state, the progress,
// the batch-order RNG and the best epoch's parameters.
void Trainer::restore(const Checkpoint* resume, Run& run) {
  make_directories(options_.out_dir);
  const std::string metrics_path = options_.out_dir + "/metrics.jsonl";
  run.resume_command = "rnnbench train --resume " + options_.out_dir + "/last.ckpt";
  RunProgress& progress = run.progress;
  if (resume) {
    backend_.set_state(resume->state);
    progress = resume->progress;
    run.data_rng.set_state(progress.epoch_rng);
    const std::string best_path = options_.out_dir + "/best.ckpt";
    if (progress.best_epoch > 0) {
      // best.ckpt must be the one this checkpoint's progress knows; a later one (written
      // just before a crash, ahead of last.ckpt) is rewritten when that epoch runs again.
      if (file_exists(best_path)) {
        Checkpoint best = load_checkpoint(best_path);
        if (best.progress.best_epoch == progress.best_epoch) run.best_state = std::move(best.state);
      }
      if (run.best_state.params.empty())
        std::cerr << "warning: " << best_path << " is missing or from another epoch than the best (" << progress.best_epoch
                  << "); the test evaluation uses the best of the epochs still to run, or the last\n";
    }
    std::cerr << "resuming at epoch " << progress.epochs_done + 1 << ", batch " << progress.next_batch << "\n";
  }
  run.metrics = MetricsLog(metrics_path, resume ? metrics_up_to(metrics_path, progress.epochs_done) : "");
  if (progress.lr <= 0.0f) progress.lr = base_.optim.lr;  // a fresh run, or a checkpoint without it
}

// The training batches of one epoch (from progress.next_batch when resumed mid-way). A
// signal saves last.ckpt at the batch reached and throws Interrupted.
Trainer::EpochTraining Trainer::train_epoch(int epoch, Run& run) {
  RunProgress& progress = run.progress;
  progress.epoch_rng = run.data_rng.state();
  const std::vector<Batch> batches =
      make_batches(train_, options_.batch_size, options_.batching, base_.model.padding, run.data_rng);
  ProgressBar bar(options_.progress, "epoch " + std::to_string(epoch + 1), static_cast<int>(batches.size()));
  backend_.take_stats();
  const auto start = Clock::now();
  // A resumed epoch continues the stats and seconds of its first part.
  BatchStats epoch_stats = progress.next_batch > 0 ? progress.epoch_stats : BatchStats{};
  const double seconds_before = progress.next_batch > 0 ? progress.epoch_seconds : 0.0;
  size_t window_start = static_cast<size_t>(progress.next_batch);  // first batch since the last take_stats
  const int64_t epoch_first_step = progress.global_step - progress.next_batch;

  // Takes the backend's stats since the last call; a skipped (non-finite) step stops the
  // run unless --skip-nonfinite. Nothing is saved then: the checkpoints on disk are from
  // before the fault.
  auto collect = [&](size_t next) {
    const BatchStats s = backend_.take_stats();
    if (s.skipped > 0 && !options_.skip_nonfinite) {
      const size_t batch = window_start + static_cast<size_t>(std::max<int64_t>(0, s.first_skipped)) + 1;
      bar.finish();
      fail("non-finite loss or gradient at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch) +
           " (step " + std::to_string(epoch_first_step + static_cast<int64_t>(batch)) +
           "); training stopped, the checkpoints in " + options_.out_dir +
           " are from before it (lower --lr, set --clip-norm, or pass --skip-nonfinite to skip such steps)");
    }
    add_stats(epoch_stats, s);
    window_start = next;
  };

  // Every epoch has the same number of batches, so the schedule's position is the epoch's
  // share plus the batch's (not global_step, which a resume with other batch settings
  // would have counted in other batches).
  const int64_t per_epoch = static_cast<int64_t>(batches.size());
  const int64_t total_steps = options_.epochs * per_epoch, epoch_start = epoch * per_epoch;
  const auto rate_at = [&](int64_t step) {
    return static_cast<float>(progress.lr * schedule_factor(options_.lr_schedule, step, total_steps));
  };
  float lr = rate_at(epoch_start + std::max(0, progress.next_batch - 1));
  for (size_t i = static_cast<size_t>(progress.next_batch); i < batches.size(); ++i) {
    lr = rate_at(epoch_start + static_cast<int64_t>(i));
    backend_.train_step(Slot::Train, batches[i], lr);
    ++progress.global_step;
    if (options_.hooks.interrupt_after_steps > 0 && progress.global_step == options_.hooks.interrupt_after_steps)
      request_interrupt();
    if (options_.hooks.await_signal_at_step > 0 && progress.global_step == options_.hooks.await_signal_at_step)
      await_interrupt_signal(options_.hooks.await_signal_ready_fd);
    if (interrupt_requested()) {
      collect(i + 1);
      progress.next_batch = static_cast<int32_t>(i + 1);
      progress.epoch_stats = epoch_stats;
      progress.epoch_seconds = seconds_before + seconds_since(start);
      bar.finish();
      save("last.ckpt", backend_.state(), progress);
      throw Interrupted("interrupted at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(i + 1) +
                        "; resume with: " + run.resume_command);
    }
    if (options_.progress && (i % 20 == 19 || i + 1 == batches.size())) {
      collect(i + 1);
      char status[96];
      std::snprintf(status, sizeof status, "loss %.4f acc %.3f", epoch_stats.loss_sum / std::max<int64_t>(1, epoch_stats.count),
                    static_cast<double>(epoch_stats.correct) / std::max<int64_t>(1, epoch_stats.count));
      bar.update(static_cast<int>(i + 1), status);
    }
  }
  collect(batches.size());
  EpochTraining trained{epoch_stats, seconds_before + seconds_since(start), batches.size(), lr};
  bar.finish();
  run.train_seconds_total += trained.seconds;
  run.train_tokens_total += trained.stats.real_tokens;
  return trained;
}

// Validation, the epoch's metrics line, best.ckpt when it improved, the --lr-plateau
// step, and last.ckpt. A signal during validation saves last.ckpt before it (resuming
// runs the validation again) and throws Interrupted; one after it stops once the epoch is
// saved.
void Trainer::validate_and_checkpoint(int epoch, const EpochTraining& trained, Run& run) {
  RunProgress& progress = run.progress;
  const BatchStats& stats = trained.stats;
  const double train_seconds = trained.seconds;
  const EvalResult val = evaluate_split(backend_, Slot::Validation, validation_, options_.batch_size,
                                        base_.model.padding, /*stop_on_interrupt=*/true);
  if (val.interrupted) {
    // Every batch is trained: resuming runs this validation again.
    progress.next_batch = static_cast<int32_t>(trained.batches);
    progress.epoch_stats = stats;
    progress.epoch_seconds = train_seconds;
    save("last.ckpt", backend_.state(), progress);
    throw Interrupted("interrupted during the validation of epoch " + std::to_string(epoch + 1) +
                      "; resume with: " + run.resume_command);
  }
  const bool has_validation = val.count > 0;
  if (has_validation && !std::isfinite(val.loss))
    fail("the validation loss of epoch " + std::to_string(epoch + 1) +
         " is not finite: the parameters have overflowed; training stopped, the checkpoints in " + options_.out_dir +
         " are from before it (lower --lr or set --clip-norm)");
  progress.epochs_done = epoch + 1;
  progress.next_batch = 0;
  progress.epoch_stats = BatchStats{};
  progress.epoch_seconds = 0.0;
  const bool improved =
      !has_validation || improves(val, progress.best_val_loss, progress.best_val_acc, options_.select);

  const double train_loss = stats.count ? stats.loss_sum / stats.count : 0.0;
  const double train_acc = stats.count ? static_cast<double>(stats.correct) / stats.count : 0.0;
  const double tokens_per_second = stats.real_tokens / std::max(train_seconds, 1e-9);
  // The metrics line first, then best.ckpt, then last.ckpt: a crash in between leaves a
  // last.ckpt from before this epoch, and resuming from it drops this line and redoes
  // the epoch (see metrics_up_to).
  run.metrics.append(JsonLine()
                         .add("event", "epoch")
                         .add("epoch", epoch + 1)
                         .add("train_loss", train_loss)
                         .add("train_acc", train_acc)
                         .add("val_loss", val.loss)
                         .add("val_acc", val.accuracy)
                         .add("train_seconds", train_seconds)
                         .add("val_seconds", val.seconds)
                         .add("tokens_per_s", tokens_per_second)
                         .add("real_tokens", stats.real_tokens)
                         .add("computed_tokens", stats.computed_tokens)
                         .add("skipped_steps", stats.skipped)
                         .add("lr", static_cast<double>(trained.last_lr))
                         .add("best", improved));
  TrainState state = backend_.state();
  if (improved) {
    progress.best_val_loss = has_validation ? val.loss : progress.best_val_loss;
    progress.best_val_acc = has_validation ? val.accuracy : progress.best_val_acc;
    progress.best_epoch = epoch + 1;
    run.best_state = state;
    save("best.ckpt", state, progress);
  }
  // --lr-plateau: the halved rate applies from the next epoch and is saved with it.
  const float epoch_lr = progress.lr;
  if (improved) {
    progress.plateau_wait = 0;
  } else if (options_.lr_plateau > 0 && ++progress.plateau_wait >= options_.lr_plateau) {
    progress.lr *= 0.5f;
    progress.plateau_wait = 0;
  }
  progress.epoch_rng = run.data_rng.state();
  save("last.ckpt", state, progress);

  std::printf("epoch %d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%%  %.0f tok/s  %.1f s%s", epoch + 1,
              options_.epochs, train_loss, 100 * train_acc, val.loss, 100 * val.accuracy, tokens_per_second,
              train_seconds, improved ? "  *" : "");
  if (stats.skipped > 0) std::printf("  (%lld non-finite steps skipped)", static_cast<long long>(stats.skipped));
  if (progress.lr != epoch_lr) std::printf("  (learning rate now %g)", static_cast<double>(progress.lr));
  std::printf("\n");
  std::fflush(stdout);
  ++run.summary.epochs_run;
  if (interrupt_requested())
    throw Interrupted("interrupted after epoch " + std::to_string(epoch + 1) + "; resume with: " + run.resume_command);
}

// Test accuracy of the best epoch's parameters, the summary and its metrics line.
TrainSummary Trainer::finish(Run& run) {
  const RunProgress& progress = run.progress;
  TrainSummary& summary = run.summary;
  if (!run.best_state.params.empty()) backend_.set_state(run.best_state);
  summary.test = evaluate_split(backend_, Slot::Test, test_, options_.batch_size, base_.model.padding,
                                /*stop_on_interrupt=*/true);
  if (summary.test.interrupted)
    throw Interrupted("interrupted during the test evaluation (training is complete); resume with: " +
                      run.resume_command + ", or evaluate with: rnnbench eval --checkpoint " + options_.out_dir +
                      "/best.ckpt");
  summary.best_epoch = progress.best_epoch;
  summary.best_val_loss = progress.best_val_loss;
  summary.best_val_acc = progress.best_val_acc;
  summary.mean_epoch_seconds = summary.epochs_run ? run.train_seconds_total / summary.epochs_run : 0.0;
  summary.tokens_per_second = run.train_tokens_total / std::max(run.train_seconds_total, 1e-9);
  run.metrics.append(JsonLine()
                         .add("event", "test")
                         .add("best_epoch", summary.best_epoch)
                         .add("select", enum_name(options_.select))
                         .add("best_val_loss", summary.best_val_loss)
                         .add("best_val_acc", summary.best_val_acc)  // -1 without a validation split
                         .add("test_loss", summary.test.loss)
                         .add("test_acc", summary.test.accuracy)
                         .add("test_count", summary.test.count)
                         .add("stopped_early", summary.stopped_early)
                         .add("mean_epoch_seconds", summary.mean_epoch_seconds)
                         .add("tokens_per_s", summary.tokens_per_second));
  std::printf("test (best epoch %d): loss %.4f  accuracy %.2f%% on %lld reviews\n", summary.best_epoch,
              summary.test.loss, 100 * summary.test.accuracy, static_cast<long long>(summary.test.count));
  return summary;
}

}  // namespace rnnb

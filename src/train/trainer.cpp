// The training loop (see trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "train/interrupt.h"
#include "train/progress.h"
#include "util/atomic_file.h"
#include "util/json.h"

namespace rnnb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// metrics.jsonl, rewritten whole (atomically) at every line so it is never half-written.
class MetricsLog {
 public:
  explicit MetricsLog(std::string path, std::string existing = "")
      : path_(std::move(path)), text_(std::move(existing)) {}
  void append(const JsonLine& line) {
    text_ += line.str() + "\n";
    write_file_atomic(path_, text_);
  }

 private:
  std::string path_, text_;
};

std::string read_text_or_empty(const std::string& path) {
  if (!file_exists(path)) return "";
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return {bytes.begin(), bytes.end()};
}

}  // namespace

EvalResult evaluate_split(Backend& backend, Slot slot, const TokenSet& set, int batch_size,
                          Padding padding) {
  const auto start = Clock::now();
  Rng unused(0);
  backend.take_stats();
  for (const Batch& batch : make_batches(set, batch_size, BatchOrder::Sequential, padding, unused))
    backend.evaluate(slot, batch, nullptr);
  const BatchStats stats = backend.take_stats();
  EvalResult result;
  result.seconds = seconds_since(start);
  result.count = stats.count;
  if (stats.count > 0) {
    result.loss = stats.loss_sum / stats.count;
    result.accuracy = static_cast<double>(stats.correct) / stats.count;
  }
  result.tokens_per_second = stats.real_tokens / std::max(result.seconds, 1e-9);
  return result;
}

Trainer::Trainer(Backend& backend, const TokenSet& train, const TokenSet& validation,
                 const TokenSet& test, const TrainOptions& options, Checkpoint base)
    : backend_(backend), train_(train), validation_(validation), test_(test), options_(options),
      base_(std::move(base)) {
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

TrainSummary Trainer::run(const Checkpoint* resume) {
  make_directories(options_.out_dir);
  const std::string metrics_path = options_.out_dir + "/metrics.jsonl";
  MetricsLog metrics(metrics_path, resume ? read_text_or_empty(metrics_path) : "");

  RunProgress progress;
  Rng data_rng(options_.seed ^ 0x243f6a8885a308d3ULL);
  TrainState best_state;
  if (resume) {
    backend_.set_state(resume->state);
    progress = resume->progress;
    data_rng.set_state(progress.epoch_rng);
    const std::string best_path = options_.out_dir + "/best.ckpt";
    if (file_exists(best_path)) best_state = load_checkpoint(best_path).state;
    std::cerr << "resuming at epoch " << progress.epochs_done + 1 << ", batch " << progress.next_batch << "\n";
  }

  TrainSummary summary;
  double train_seconds_total = 0.0;
  int64_t train_tokens_total = 0;
  install_interrupt_handlers();

  for (int epoch = progress.epochs_done; epoch < options_.epochs; ++epoch) {
    progress.epoch_rng = data_rng.state();
    const std::vector<Batch> batches =
        make_batches(train_, options_.batch_size, options_.batching, options_.padding, data_rng);
    ProgressBar bar(options_.progress, "epoch " + std::to_string(epoch + 1), static_cast<int>(batches.size()));
    backend_.take_stats();
    const auto start = Clock::now();
    BatchStats shown;
    for (size_t i = static_cast<size_t>(progress.next_batch); i < batches.size(); ++i) {
      backend_.train_step(Slot::Train, batches[i], base_.optim.lr);
      ++progress.global_step;
      if (interrupt_requested()) {
        progress.next_batch = static_cast<int32_t>(i + 1);
        bar.finish();
        save("last.ckpt", backend_.state(), progress);
        throw Interrupted("interrupted at epoch " + std::to_string(epoch + 1) + ", batch " +
                          std::to_string(i + 1) + "; resume with: rnnbench train --resume " +
                          options_.out_dir + "/last.ckpt");
      }
      if (options_.progress && (i % 20 == 19 || i + 1 == batches.size())) {
        const BatchStats s = backend_.take_stats();
        shown.loss_sum += s.loss_sum, shown.correct += s.correct, shown.count += s.count;
        shown.real_tokens += s.real_tokens, shown.computed_tokens += s.computed_tokens;
        char status[96];
        std::snprintf(status, sizeof status, "loss %.4f acc %.3f", shown.loss_sum / std::max<int64_t>(1, shown.count),
                      static_cast<double>(shown.correct) / std::max<int64_t>(1, shown.count));
        bar.update(static_cast<int>(i + 1), status);
      }
    }
    BatchStats stats = backend_.take_stats();
    stats.loss_sum += shown.loss_sum, stats.correct += shown.correct, stats.count += shown.count;
    stats.real_tokens += shown.real_tokens, stats.computed_tokens += shown.computed_tokens;
    const double train_seconds = seconds_since(start);
    bar.finish();
    train_seconds_total += train_seconds;
    train_tokens_total += stats.real_tokens;

    const EvalResult val = evaluate_split(backend_, Slot::Validation, validation_, options_.batch_size, options_.padding);
    progress.epochs_done = epoch + 1;
    progress.next_batch = 0;
    const bool has_validation = val.count > 0;
    const bool improved = !has_validation || val.loss < progress.best_val_loss;
    TrainState state = backend_.state();
    if (improved) {
      progress.best_val_loss = has_validation ? val.loss : progress.best_val_loss;
      progress.best_epoch = epoch + 1;
      best_state = state;
      save("best.ckpt", state, progress);
    }
    progress.epoch_rng = data_rng.state();
    save("last.ckpt", state, progress);

    const double train_loss = stats.count ? stats.loss_sum / stats.count : 0.0;
    const double train_acc = stats.count ? static_cast<double>(stats.correct) / stats.count : 0.0;
    const double tokens_per_second = stats.real_tokens / std::max(train_seconds, 1e-9);
    metrics.append(JsonLine()
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
                       .add("best", improved));
    std::printf("epoch %d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%%  %.0f tok/s  %.1f s%s\n",
                epoch + 1, options_.epochs, train_loss, 100 * train_acc, val.loss, 100 * val.accuracy,
                tokens_per_second, train_seconds, improved ? "  *" : "");
    std::fflush(stdout);
    ++summary.epochs_run;
  }

  // Test accuracy of the best checkpoint.
  if (!best_state.params.empty()) backend_.set_state(best_state);
  summary.test = evaluate_split(backend_, Slot::Test, test_, options_.batch_size, options_.padding);
  summary.best_epoch = progress.best_epoch;
  summary.best_val_loss = progress.best_val_loss;
  summary.mean_epoch_seconds = summary.epochs_run ? train_seconds_total / summary.epochs_run : 0.0;
  summary.tokens_per_second = train_tokens_total / std::max(train_seconds_total, 1e-9);
  metrics.append(JsonLine()
                     .add("event", "test")
                     .add("best_epoch", summary.best_epoch)
                     .add("best_val_loss", summary.best_val_loss)
                     .add("test_loss", summary.test.loss)
                     .add("test_acc", summary.test.accuracy)
                     .add("test_count", summary.test.count)
                     .add("mean_epoch_seconds", summary.mean_epoch_seconds)
                     .add("tokens_per_s", summary.tokens_per_second));
  std::printf("test (best epoch %d): loss %.4f  accuracy %.2f%% on %lld reviews\n", summary.best_epoch,
              summary.test.loss, 100 * summary.test.accuracy, static_cast<long long>(summary.test.count));
  return summary;
}

}  // namespace rnnb

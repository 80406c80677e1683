// The CPU backend: the whole training step (embedding, recurrent stack, head, loss,
// backward, clipping, Adam) on the host. It is the specification the cuDNN backend is
// tested against, and a real trainer in its own right. One thread team (--threads) does
// all the parallel work; the libraries it calls run single-threaded inside its lanes.
#include <algorithm>
#include <array>
#include <utility>
#include <cmath>
#include <limits>

#include "cpu/cpu_ops.h"
#include "cpu/float_env.h"
#include "cpu/matmul.h"
#include "cpu/rnn_cpu.h"
#include "cpu/thread_team.h"
#include "train/backend.h"
#include "util/error.h"

namespace rnnb {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelConfig& model, const OptimConfig& optim, const BackendOptions& options,
             uint64_t seed, const BackendHooks& hooks)
      : model_(model),
        optim_(optim),
        layout_(model),
        team_(checked(options).threads),
        rnn_(model.rnn_shape(), model.rnn_dropout, CpuRnnOptions{&team_, options.math == RnnMath::Bf16}),
        state_(initial_state(model, seed)),
        grad_(layout_.total, 0.0f) {
    use_single_threaded_libraries();
    inject_nan_at_step_ = hooks.inject_nan_at_step;
    dropout_rng_.set_state(state_.dropout_rng);
  }

  std::string name() const override { return "cpu"; }

  void attach(Slot slot, const TokenizedSplit& set) override { sets_[static_cast<int>(slot)] = &set; }

  void train_step(Slot slot, const Batch& batch, float lr) override {
    const FlushDenormals flush;
    const TokenizedSplit& set = attached(slot);
    const BatchStats before = stats_;
    forward(set, batch, /*train=*/true, nullptr);
    const double batch_loss = stats_.loss_sum - before.loss_sum;

    // Head backward (cpu/cpu_ops.h): every head gradient is overwritten.
    const int B = batch.size(), F = model_.features(), C = model_.classes, N = model_.head_hidden;
    float* params = state_.params.data();
    float* grad = grad_.data();
    for_each_share(layout_.total, [&](int, size_t begin, size_t end) { std::fill(grad + begin, grad + end, 0.0f); });
    dfeatures_.resize(static_cast<size_t>(B) * F);
    dact_.resize(static_cast<size_t>(B) * N);
    head_backward(dropped_.data(), act_.data(), dlogits_.data(), B, F, N, C, params + layout_.hidden_w,
                  params + layout_.head_w, grad + layout_.hidden_w, grad + layout_.hidden_b, grad + layout_.head_w,
                  grad + layout_.head_b, dfeatures_.data(), dact_.data());
    for (size_t i = 0; i < dfeatures_.size(); ++i) dfeatures_[i] *= mask_[i];

    // Into the top layer's final states (last) or its outputs (pooling), then through the
    // recurrent stack.
    const RnnShape shape = model_.rnn_shape();
    const int H = model_.hidden;
    dx_.resize(x_.size());
    if (model_.pool == Pool::Last) {
      dhy_.resize(static_cast<size_t>(shape.layers) * shape.dirs * B * H);
      scatter_final_hidden_grad(dfeatures_.data(), shape.layers, shape.dirs, B, H, dhy_.data());
      rnn_.backward(params + layout_.rnn, nullptr, dhy_.data(), nullptr, dx_.data(), grad + layout_.rnn);
    } else {
      dy_.resize(y_.size());
      pool_backward(model_.pool, dfeatures_.data(), shape.output(), step_offsets_.data(), batch.lengths.data(), B,
                    batch.steps, batch.padding, argmax_.data(), dy_.data());
      rnn_.backward(params + layout_.rnn, dy_.data(), nullptr, nullptr, dx_.data(), grad + layout_.rnn);
    }
    if (embed_dropped_)
      for (size_t i = 0; i < dx_.size(); ++i) dx_[i] *= embed_mask_[i];
    embedding_backward(dx_.data(), model_.embed, tokens_.data(), static_cast<int64_t>(tokens_.size()),
                       grad + layout_.embedding);

    if (++steps_taken_ == inject_nan_at_step_) grad[layout_.total / 2] = std::numeric_limits<float>::quiet_NaN();

    // A non-finite loss or gradient skips the update entirely (the trainer decides whether
    // to stop); the squared norm is needed for that check even without clipping.
    lane_squares_.resize(team_.size());
    for_each_share(layout_.total, [&](int lane, size_t begin, size_t end) {
      lane_squares_[lane] = sum_of_squares(grad + begin, end - begin);
    });
    double squares = 0.0;
    for (double part : lane_squares_) squares += part;  // in lane order: reproducible
    if (!step_is_finite(batch_loss, squares)) {
      if (stats_.skipped++ == 0) stats_.first_skipped = steps_since_stats_;
      ++steps_since_stats_;
      stats_.loss_sum = before.loss_sum;
      stats_.correct = before.correct;
      stats_.count = before.count;
      return;
    }
    ++steps_since_stats_;
    const float scale = optim_.clip_norm > 0.0f ? clip_scale(std::sqrt(squares), optim_.clip_norm) : 1.0f;
    OptimConfig step_config = optim_;
    step_config.lr = lr;
    ++state_.adam_step;
    for_each_share(layout_.total, [&](int, size_t begin, size_t end) {
      adam_update(params + begin, grad + begin, state_.adam_m.data() + begin, state_.adam_v.data() + begin,
                  end - begin, step_config, state_.adam_step, scale);
    });
  }

  void evaluate(Slot slot, const Batch& batch, float* prob_positive) override {
    const FlushDenormals flush;
    forward(attached(slot), batch, /*train=*/false, prob_positive);
  }

  BatchStats take_stats() override {
    steps_since_stats_ = 0;
    return std::exchange(stats_, BatchStats{});
  }

  void set_state(const TrainState& state) override {
    if (state.params.size() != layout_.total || state.adam_m.size() != layout_.total ||
        state.adam_v.size() != layout_.total)
      fail("parameter state does not match the model's size");
    state_ = state;
    dropout_rng_.set_state(state_.dropout_rng);
  }

  TrainState state() override {
    state_.dropout_rng = dropout_rng_.state();
    return state_;
  }

  std::vector<float> last_gradient() override { return steps_taken_ > 0 ? grad_ : std::vector<float>{}; }

 private:
  // fn(lane, begin, end) on each lane's contiguous share of n elements (elementwise passes
  // over the parameters, which are memory-bound: both cores' bandwidth halves their time).
  template <typename Fn>
  void for_each_share(size_t n, Fn fn) {
    team_.run([&](int lane) {
      int64_t begin, end;
      ThreadTeam::split(static_cast<int64_t>(n), lane, team_.size(), &begin, &end);
      fn(lane, static_cast<size_t>(begin), static_cast<size_t>(end));
    });
  }

  static const BackendOptions& checked(const BackendOptions& options) {
    if (options.algo != RnnAlgo::Standard || options.loss_scale != 0.0f ||
        (options.math != RnnMath::Fp32 && options.math != RnnMath::Bf16))
      throw UsageError("--algo other than standard, --math tf32/fp16 and a loss scale need --device cuda");
    return options;
  }

  const TokenizedSplit& attached(Slot slot) const {
    const TokenizedSplit* set = sets_[static_cast<int>(slot)];
    RNNB_ASSERT(set != nullptr);
    return *set;
  }

  // Embedding, recurrent stack and head; the loss and its logit gradient into dlogits_.
  void forward(const TokenizedSplit& set, const Batch& batch, bool train, float* prob_positive) {
    const int B = batch.size(), E = model_.embed, F = model_.features(), C = model_.classes;
    const RnnShape shape = model_.rnn_shape();
    const float* params = state_.params.data();

    assemble_tokens(set, batch, tokens_);
    const int64_t n = static_cast<int64_t>(tokens_.size());
    if (train) word_dropout(tokens_.data(), n, model_.word_dropout, dropout_rng_);
    x_.resize(static_cast<size_t>(n) * E);
    embedding_forward(params + layout_.embedding, E, tokens_.data(), n, x_.data());
    embed_dropped_ = train && model_.embed_dropout > 0.0f;
    if (embed_dropped_) {
      embed_mask_.resize(x_.size());
      dropout_forward(x_.data(), static_cast<int64_t>(x_.size()), model_.embed_dropout, dropout_rng_, x_.data(),
                      embed_mask_.data());  // in place: element i is read before it is written
    }

    const std::vector<int> batch_sizes = batch.batch_sizes();
    y_.resize(static_cast<size_t>(n) * shape.output());
    const size_t state_size = static_cast<size_t>(shape.layers) * shape.dirs * B * shape.hidden;
    hy_.resize(state_size);
    cy_.resize(model_.cell == Cell::Lstm ? state_size : 0);
    rnn_.forward(params + layout_.rnn, x_.data(), batch_sizes, y_.data(), hy_.data(),
                 cy_.empty() ? nullptr : cy_.data(), train, &dropout_rng_);

    // Features: the top layer's final state of each direction, side by side, or a pooling of
    // its outputs over each review's real positions.
    features_.resize(static_cast<size_t>(B) * F);
    const int H = shape.hidden;
    if (model_.pool == Pool::Last) {
      gather_final_hidden(hy_.data(), shape.layers, shape.dirs, B, H, features_.data());
    } else {
      step_offsets_ = step_row_offsets(batch_sizes);
      argmax_.resize(static_cast<size_t>(B) * shape.output());
      pool_forward(model_.pool, y_.data(), shape.output(), step_offsets_.data(), batch.lengths.data(), B, batch.steps,
                   batch.padding, features_.data(), argmax_.data());
    }
    dropped_.resize(features_.size());
    mask_.resize(features_.size());
    dropout_forward(features_.data(), static_cast<int64_t>(features_.size()),
                    train ? model_.head_dropout : 0.0f, dropout_rng_, dropped_.data(), mask_.data());

    logits_.resize(static_cast<size_t>(B) * C);
    act_.resize(static_cast<size_t>(B) * model_.head_hidden);
    head_forward(dropped_.data(), B, F, model_.head_hidden, C, params + layout_.hidden_w, params + layout_.hidden_b,
                 params + layout_.head_w, params + layout_.head_b, act_.data(), logits_.data());

    labels_.resize(B);
    gather_labels(set.labels.data(), batch.reviews.data(), B, labels_.data());
    dlogits_.resize(logits_.size());
    int64_t correct = 0;
    stats_.loss_sum += softmax_xent(logits_.data(), labels_.data(), B, C, train ? dlogits_.data() : nullptr,
                                    &correct, prob_positive);
    stats_.correct += correct;
    stats_.count += B;
    stats_.real_tokens += batch.real_tokens();
    stats_.computed_tokens += batch.computed_tokens();
  }

  ModelConfig model_;
  OptimConfig optim_;
  ParamLayout layout_;
  ThreadTeam team_;
  CpuRnn<float> rnn_;
  TrainState state_;
  std::vector<float> grad_;
  Rng dropout_rng_;
  std::array<const TokenizedSplit*, 4> sets_{};
  BatchStats stats_;
  int64_t steps_since_stats_ = 0, steps_taken_ = 0, inject_nan_at_step_ = 0;
  // Per-batch scratch, reused.
  std::vector<int32_t> tokens_;
  std::vector<uint8_t> labels_;
  std::vector<float> x_, y_, hy_, cy_, features_, dropped_, mask_, logits_, dlogits_, dfeatures_, dhy_, dx_;
  std::vector<float> embed_mask_, act_, dact_, dy_;
  std::vector<int64_t> step_offsets_;
  std::vector<double> lane_squares_;
  std::vector<int32_t> argmax_;
  bool embed_dropped_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& model, const OptimConfig& optim,
                                          const BackendOptions& options, uint64_t seed,
                                          const BackendHooks& hooks) {
  return std::make_unique<CpuBackend>(model, optim, options, seed, hooks);
}

}  // namespace rnnb

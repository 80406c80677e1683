// The cuDNN backend: the CPU backend's training step (cpu/cpu_backend.cpp) on the GPU.
// Tokens are assembled on the device from splits copied there once; cuDNN runs the
// recurrent stack, cuBLAS the head, the kernels in kernels/ everything else. All parameters
// live in one flat device buffer [cuDNN weight space | embedding | head W | head b |
// hidden head W | hidden head b] with
// gradient, Adam moments of the same layout, so clipping and Adam are one launch each.
// Loss and accuracy accumulate on the device; take_stats() is the only wait for the GPU.
#include <cuda_fp16.h>
#include <cuda_profiler_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <optional>

#include "adam.h"
#include "clip.h"
#include "nonfinite.h"
#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "cuda/nvtx_range.h"
#include "cuda/precision.h"
#include "dropout.h"
#include "embedding.h"
#include "pack.h"
#include "pool.h"
#include "relu.h"
#include "softmax_xent.h"
#include "train/backend.h"
#include "util/error.h"

namespace rnnb {
namespace cuda {
namespace {

// Mixed into the dropout seed for the embedding dropout's stream (the head's uses the seed).
constexpr uint64_t kEmbedDropoutStream = 0x6a09e667f3bcc908ULL;

// A split resident on the device.
struct DeviceSplit {
  const TokenSet* host = nullptr;
  DeviceBuffer<int32_t> tokens;
  DeviceBuffer<int64_t> offsets;
};

// "A:B" -> {A, B}, 1-based training steps, A <= B.
std::optional<std::array<int64_t, 2>> parse_profile_steps(const std::string& text) {
  if (text.empty()) return std::nullopt;
  long long a = 0, b = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%lld:%lld%c", &a, &b, &extra) != 2 || a < 1 || b < a)
    throw UsageError("--profile-steps takes A:B with 1 <= A <= B, got '" + text + "'");
  return std::array<int64_t, 2>{a, b};
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelConfig& model, const OptimConfig& optim, const BackendOptions& options,
              uint64_t seed)
      : model_(model),
        optim_(optim),
        options_(options),
        canonical_(model),
        profile_steps_(parse_profile_steps(options.profile_steps)),
        device_(select_device(options.device_index)),
        stream_(),
        cudnn_(make_cudnn_handle()),
        cublas_(make_cublas_handle()),
        rnn_(init_rnn(model, options, seed)),
        half_(rnn_.data_type() == CUDNN_DATA_HALF) {
    CUDNN_CHECK(cudnnSetStream(cudnn_.get(), stream_.get()));
    CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));
    // fp32 head math unless tf32 is asked for; no atomics, so the head is reproducible.
    CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), rnn_.options().math == RnnMath::Tf32
                                                       ? CUBLAS_TF32_TENSOR_OP_MATH
                                                       : CUBLAS_DEFAULT_MATH));
    CUBLAS_CHECK(cublasSetAtomicsMode(cublas_.get(), CUBLAS_ATOMICS_NOT_ALLOWED));

    // The flat device layout.
    space_ = rnn_.weight_space_elements();
    embedding_ = space_;
    head_w_ = embedding_ + static_cast<size_t>(model.vocab_size) * model.embed;
    head_b_ = head_w_ + static_cast<size_t>(model.classes) * model.head_input();
    hidden_w_ = head_b_ + model.classes;
    hidden_b_ = hidden_w_ + static_cast<size_t>(model.head_hidden) * model.features();
    total_ = hidden_b_ + model.head_hidden;
    params_.resize(total_);
    grad_.resize(total_);
    m_.resize(total_);
    v_.resize(total_);
    if (half_) {
      half_weights_.resize(space_);
      half_dweights_.resize(space_);
    }
    clip_partials_.resize(kSumOfSquaresBlocks);
    clip_sum_.resize(1);
    clip_scale_.resize(1);
    guard_.resize(1);
    guard_.zero(stream_.get());
    loss_sum_.resize(1);
    correct_.resize(1);
    loss_sum_.zero(stream_.get());
    correct_.zero(stream_.get());

    set_state(initial_state(model, seed));
  }

  ~CudaBackend() override {
    if (profiling_) cudaProfilerStop();
  }

  std::string name() const override { return "cuda:" + device_name_; }

  void attach(Slot slot, const TokenSet& set) override {
    DeviceSplit& split = splits_[static_cast<int>(slot)];
    split.host = &set;
    split.tokens.upload(set.tokens, stream_.get());
    split.offsets.upload(set.offsets, stream_.get());
    // The host vectors may change after attach() returns: finish the copies now.
    stream_.synchronize();
  }

  void train_step(Slot slot, const Batch& batch, float lr) override {
    ++steps_taken_;
    if (profile_steps_ && steps_taken_ == (*profile_steps_)[0] && !profiling_) {
      CUDA_CHECK(cudaProfilerStart());
      profiling_ = true;
    }

    nonfinite_snapshot(guard_.data(), loss_sum_.data(), correct_.data(), stream_.get());
    forward(slot, batch, /*train=*/true, nullptr);
    backward(batch);
    if (steps_taken_ == options_.inject_nan_at_step)  // test hook: all-ones bytes are a NaN
      CUDA_CHECK(cudaMemsetAsync(grad_.data() + total_ / 2, 0xFF, sizeof(float), stream_.get()));
    {
      NvtxRange range("optimizer");
      // The squared norm every step: the guard needs it even without clipping.
      grad_sum_of_squares(grad_.data(), total_, clip_partials_.data(), clip_sum_.data(), stream_.get());
      nonfinite_check(guard_.data(), clip_sum_.data(), batch.size(), loss_sum_.data(), correct_.data(),
                      stream_.get());
      const float* scale = nullptr;
      if (optim_.clip_norm > 0.0f) {
        grad_clip_scale(clip_sum_.data(), optim_.clip_norm, clip_scale_.data(), nullptr, stream_.get());
        scale = clip_scale_.data();
      }
      OptimConfig config = optim_;
      config.lr = lr;
      ++adam_step_;
      adam_step(params_.data(), grad_.data(), m_.data(), v_.data(), total_, config, adam_step_, scale,
                stream_.get(), guard_.data());
      half_weights_current_ = false;
    }

    if (profiling_ && steps_taken_ == (*profile_steps_)[1]) {
      CUDA_CHECK(cudaProfilerStop());
      profiling_ = false;
    }
  }

  void evaluate(Slot slot, const Batch& batch, float* prob_positive) override {
    NvtxRange range("evaluation");
    forward(slot, batch, /*train=*/false, prob_positive);
  }

  BatchStats take_stats() override {
    fold_guard();
    guard_steps_folded_ = 0;
    BatchStats stats = host_stats_;
    host_stats_ = BatchStats{};
    double loss = 0.0;
    unsigned long long correct = 0;
    CUDA_CHECK(cudaMemcpyAsync(&loss, loss_sum_.data(), sizeof loss, cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(&correct, correct_.data(), sizeof correct, cudaMemcpyDeviceToHost,
                               stream_.get()));
    loss_sum_.zero(stream_.get());
    correct_.zero(stream_.get());
    stream_.synchronize();
    stats.loss_sum = loss;
    stats.correct = static_cast<int64_t>(correct);
    return stats;
  }

  // A worst-case batch (every review as long as the longest) against free device memory:
  // cuDNN's workspace and reserve space plus the per-batch activations and gradients.
  void check_memory(int batch_size, int longest) override {
    const RnnShape shape = model_.rnn_shape();
    const double rows = static_cast<double>(batch_size) * longest;
    auto gib = [](double bytes) {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1u << 30));
      return std::string(text);
    };
    const std::string what = "a batch of " + std::to_string(batch_size) + " reviews of up to " +
                             std::to_string(longest) + " tokens";
    if (rows > static_cast<double>(std::numeric_limits<int32_t>::max()))
      fail(what + " has more than 2^31 tokens, beyond cuDNN's limits: lower --batch-size or --max-len");
    const std::vector<int> lengths(static_cast<size_t>(batch_size), longest);
    const double temp = static_cast<double>(std::max(rnn_.temp_space_bytes(lengths, false, true),
                                                     rnn_.temp_space_bytes(lengths, true, true)));
    const double element = static_cast<double>(rnn_.element_bytes());
    // x and dx (embedding width), y and the zero dy (output width), tokens and the
    // embedding-gradient workspace (about 24 bytes a row), final states and their gradients.
    const double activations = rows * (2.0 * model_.embed + 2.0 * shape.output()) * element + rows * 24.0;
    const double states = 6.0 * shape.layers * shape.dirs * static_cast<double>(batch_size) * shape.hidden * 4.0;
    const double need = temp + activations + states;
    size_t free_bytes = 0, total_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const double usable = 0.9 * static_cast<double>(free_bytes);  // headroom for cuBLAS and fragmentation
    if (need > usable) {
      const long fits = static_cast<long>(batch_size * (usable / need));
      fail(what + " needs about " + gib(need) + " of GPU memory (cuDNN workspace " + gib(temp) + "), but " +
           gib(static_cast<double>(free_bytes)) + " is free on " + device_name_ + ": lower --batch-size (about " +
           std::to_string(std::max(0L, fits)) + " fits) or --max-len");
    }
  }

  void set_state(const TrainState& state) override {
    if (state.params.size() != canonical_.total || state.adam_m.size() != canonical_.total ||
        state.adam_v.size() != canonical_.total)
      fail("parameter state does not match the model's size");
    params_.upload(to_device_layout(state.params), stream_.get());
    m_.upload(to_device_layout(state.adam_m), stream_.get());
    v_.upload(to_device_layout(state.adam_v), stream_.get());
    guard_.zero(stream_.get());  // skips counted so far belong to the replaced state
    stream_.synchronize();  // the host vectors are temporaries
    adam_step_ = state.adam_step;
    dropout_seed_ = state.dropout_rng[0];
    dropout_counter_ = state.dropout_rng[1];
    half_weights_current_ = false;
  }

  TrainState state() override {
    fold_guard();
    TrainState state;
    state.params = to_canonical_layout(params_.download(stream_.get()));
    state.adam_m = to_canonical_layout(m_.download(stream_.get()));
    state.adam_v = to_canonical_layout(v_.download(stream_.get()));
    state.adam_step = adam_step_;
    state.dropout_rng = {dropout_seed_, dropout_counter_, 0, 0};
    return state;
  }

 private:
  static int select_device(int index) {
    std::string why;
    if (!gpu_available(&why)) throw NoGpuError(why);
    int count = 0;
    CUDA_CHECK(cudaGetDeviceCount(&count));
    if (index < 0 || index >= count)
      throw UsageError("--device-index " + std::to_string(index) + " is out of range: " +
                       std::to_string(count) + " CUDA device(s)");
    CUDA_CHECK(cudaSetDevice(index));
    return index;
  }

  CudnnRnn init_rnn(const ModelConfig& model, const BackendOptions& options, uint64_t seed) {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = prop.name;
    RnnOptions rnn_options;
    rnn_options.algo = parse_rnn_algo(options.algo);
    rnn_options.math = parse_rnn_math(options.math);
    rnn_options.dropout = model.rnn_dropout;
    rnn_options.seed = seed ^ 0x9e3779b97f4a7c15ULL;
    return CudnnRnn(cudnn_.get(), model.rnn_shape(), rnn_options);
  }

  // Moves the device's skipped-step counters into host_stats_ and adam_step_ (a wait).
  void fold_guard() {
    NonfiniteGuard guard{};
    CUDA_CHECK(cudaMemcpyAsync(&guard, guard_.data(), sizeof guard, cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
    if (guard.skipped > 0) {
      if (host_stats_.skipped == 0) host_stats_.first_skipped = guard_steps_folded_ + guard.first_skipped;
      host_stats_.skipped += guard.skipped;
      host_stats_.count -= guard.skipped_reviews;
      adam_step_ -= guard.skipped;
    }
    guard_steps_folded_ += guard.steps;
    guard_.zero(stream_.get());
  }

  const TokenSet& attached(Slot slot, const DeviceSplit** split) const {
    const DeviceSplit& s = splits_[static_cast<int>(slot)];
    RNNB_ASSERT(s.host != nullptr);
    *split = &s;
    return *s.host;
  }

  // Canonical (checkpoint) layout <-> the flat device layout, on the host.
  std::vector<float> to_device_layout(const std::vector<float>& canonical) const {
    std::vector<float> flat(total_, 0.0f);
    rnn_.to_space(canonical.data() + canonical_.rnn, flat.data());
    std::copy(canonical.begin() + canonical_.embedding, canonical.begin() + canonical_.rnn,
              flat.begin() + embedding_);
    std::copy(canonical.begin() + canonical_.head_w, canonical.end(), flat.begin() + head_w_);
    return flat;
  }
  std::vector<float> to_canonical_layout(const std::vector<float>& flat) const {
    std::vector<float> canonical(canonical_.total, 0.0f);
    rnn_.to_canonical(flat.data(), canonical.data() + canonical_.rnn);
    std::copy(flat.begin() + embedding_, flat.begin() + head_w_, canonical.begin() + canonical_.embedding);
    std::copy(flat.begin() + head_w_, flat.end(), canonical.begin() + canonical_.head_w);
    return canonical;
  }

  // The weights cuDNN reads: the fp32 master region, or its fp16 copy.
  const void* rnn_weights() {
    if (!half_) return params_.data();
    if (!half_weights_current_) {
      convert(params_.data(), half_weights_.data(), space_, stream_.get());
      half_weights_current_ = true;
    }
    return half_weights_.data();
  }
  void* typed(DeviceBuffer<float>& f, DeviceBuffer<__half>& h) {
    return half_ ? static_cast<void*>(h.data()) : static_cast<void*>(f.data());
  }
  // Grow-only: reallocating (cudaFree) would wait for the device.
  template <typename T>
  static void grow(DeviceBuffer<T>& buffer, size_t count) {
    if (buffer.size() < count) buffer.resize(count);
  }
  // Pageable host memory is staged at the call, so `host` may change right after.
  template <typename T>
  void upload_async(DeviceBuffer<T>& buffer, const std::vector<T>& host) {
    grow(buffer, host.size());
    if (!host.empty())
      CUDA_CHECK(cudaMemcpyAsync(buffer.data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice,
                                 stream_.get()));
  }

  // Embedding, recurrent stack, head and loss; keeps what backward() needs.
  void forward(Slot slot, const Batch& batch, bool train, float* prob_positive) {
    const DeviceSplit* split = nullptr;
    const TokenSet& set = attached(slot, &split);
    cudaStream_t stream = stream_.get();
    const RnnShape shape = model_.rnn_shape();
    const int B = batch.size(), E = model_.embed, F = model_.features(), C = model_.classes;
    const int H = shape.hidden;
    const bool padded = batch.padding != Padding::None;
    RNNB_ASSERT(B > 0 && batch.steps >= 1);

    {
      NvtxRange range("batch assembly");
      const std::vector<int64_t> step_offsets = step_row_offsets(batch);
      rows_ = step_offsets.back();
      labels_host_.resize(B);
      for (int b = 0; b < B; ++b) labels_host_[b] = set.labels[static_cast<size_t>(batch.reviews[b])];
      upload_async(reviews_, batch.reviews);
      upload_async(lengths_, batch.lengths);
      upload_async(step_offsets_, step_offsets);
      upload_async(labels_, labels_host_);
      grow(tokens_, static_cast<size_t>(rows_));
      pack_batch_tokens(split->tokens.data(), split->offsets.data(), reviews_.data(), lengths_.data(),
                        step_offsets_.data(), B, batch.steps, batch.padding, tokens_.data(), stream);
    }

    const size_t x_count = static_cast<size_t>(rows_) * E;
    const size_t y_count = static_cast<size_t>(rows_) * shape.output();
    const size_t state_count = static_cast<size_t>(shape.layers) * shape.dirs * B * H;
    {
      NvtxRange range("embedding");
      embed_dropped_ = train && model_.embed_dropout > 0.0f;
      if (half_ && !embed_dropped_) {
        grow(x_half_, x_count);
        embedding_gather(params_.data() + embedding_, E, tokens_.data(), rows_, x_half_.data(), stream);
      } else {
        grow(x_, x_count);
        embedding_gather(params_.data() + embedding_, E, tokens_.data(), rows_, x_.data(), stream);
      }
      if (embed_dropped_) {
        // Its own stream: the head dropout's seed and step, with the seed mixed.
        grow(embed_mask_, x_count);
        dropout_forward(x_.data(), static_cast<int64_t>(x_count), model_.embed_dropout,
                        dropout_seed_ ^ kEmbedDropoutStream, dropout_counter_, x_.data(), embed_mask_.data(), stream);
        if (half_) {
          grow(x_half_, x_count);
          convert(x_.data(), x_half_.data(), x_count, stream);
        }
      }
    }
    {
      NvtxRange range("rnn forward");
      rnn_.set_batch(padded ? std::vector<int>(B, batch.steps)
                            : std::vector<int>(batch.lengths.begin(), batch.lengths.end()),
                     padded);
      RNNB_ASSERT(rnn_.rows() == rows_);
      grow(y_, half_ ? 0 : y_count);
      grow(y_half_, half_ ? y_count : 0);
      grow(hy_, state_count);
      grow(hy_half_, half_ ? state_count : 0);
      const bool lstm = model_.cell == Cell::Lstm;
      grow(cy_, lstm && !half_ ? state_count : 0);
      grow(cy_half_, lstm && half_ ? state_count : 0);
      rnn_.forward(rnn_weights(), typed(x_, x_half_), typed(y_, y_half_), typed(hy_, hy_half_),
                   lstm ? typed(cy_, cy_half_) : nullptr, train);
      if (half_) convert(hy_half_.data(), hy_.data(), state_count, stream);
    }
    {
      NvtxRange range("head");
      const size_t f_count = static_cast<size_t>(B) * F;
      grow(features_, f_count);
      grow(dropped_, f_count);
      grow(mask_, f_count);
      grow(logits_, static_cast<size_t>(B) * C);
      if (model_.pool == Pool::Last) {
        gather_final_hidden(hy_.data(), shape.layers, shape.dirs, B, H, features_.data(), stream);
      } else {
        const float* y = y_.data();
        if (half_) {  // pooling reads fp32 outputs
          grow(y_pool_, y_count);
          convert(y_half_.data(), y_pool_.data(), y_count, stream);
          y = y_pool_.data();
        }
        grow(argmax_, static_cast<size_t>(B) * shape.output());
        pool_outputs(model_.pool, y, shape.output(), step_offsets_.data(), lengths_.data(), B, batch.steps,
                     batch.padding, features_.data(), argmax_.data(), stream);
      }
      const float p = train ? model_.head_dropout : 0.0f;
      dropout_forward(features_.data(), static_cast<int64_t>(f_count), p, dropout_seed_, dropout_counter_,
                      dropped_.data(), mask_.data(), stream);
      if (train) ++dropout_counter_;
      ensure_ones(B);
      const float one = 1.0f, zero = 0.0f;
      // Row-major out [B x M] = in [B x K] W^T + b is, for cuBLAS's column-major view,
      // out^T [M x B] = W [M x K] (stored as K x M) * in^T [K x B].
      const int N = model_.head_hidden, K = model_.head_input();
      const float* head_in = dropped_.data();
      if (N > 0) {
        grow(act_, static_cast<size_t>(B) * N);
        CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, N, B, F, &one, params_.data() + hidden_w_,
                                 F, dropped_.data(), F, &zero, act_.data(), N));
        CUBLAS_CHECK(cublasSger(cublas_.get(), N, B, &one, params_.data() + hidden_b_, 1, ones_.data(), 1,
                                act_.data(), N));
        relu_forward(act_.data(), static_cast<int64_t>(B) * N, stream);
        head_in = act_.data();
      }
      CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, C, B, K, &one,
                               params_.data() + head_w_, K, head_in, K, &zero, logits_.data(), C));
      CUBLAS_CHECK(cublasSger(cublas_.get(), C, B, &one, params_.data() + head_b_, 1, ones_.data(), 1,
                              logits_.data(), C));
    }
    {
      NvtxRange range("loss");
      grow(dlogits_, static_cast<size_t>(B) * C);
      if (prob_positive) grow(prob_, static_cast<size_t>(B));
      softmax_xent_batch(logits_.data(), labels_.data(), B, C, train ? dlogits_.data() : nullptr,
                         prob_positive ? prob_.data() : nullptr, loss_sum_.data(), correct_.data(), stream);
      host_stats_.count += B;
      host_stats_.real_tokens += batch.real_tokens();
      host_stats_.computed_tokens += batch.computed_tokens();
      if (prob_positive) {
        // The caller reads the probabilities on return.
        CUDA_CHECK(cudaMemcpyAsync(prob_positive, prob_.data(), sizeof(float) * B, cudaMemcpyDeviceToHost,
                                   stream));
        stream_.synchronize();
      }
    }
  }

  // Gradients of the last train forward into grad_ (the flat layout).
  void backward(const Batch& batch) {
    NvtxRange range("backward");
    cudaStream_t stream = stream_.get();
    const RnnShape shape = model_.rnn_shape();
    const int B = batch.size(), E = model_.embed, F = model_.features(), C = model_.classes;
    const int H = shape.hidden;
    const size_t state_count = static_cast<size_t>(shape.layers) * shape.dirs * B * H;
    const size_t y_count = static_cast<size_t>(rows_) * shape.output();
    const size_t x_count = static_cast<size_t>(rows_) * E;
    grad_.zero(stream);

    // Output layer on its input (the hidden layer's activations, or the features):
    // dW [C x K] = dlogits^T in; db = column sums of dlogits; d(in) = dlogits W.
    const float one = 1.0f, zero = 0.0f;
    const int N = model_.head_hidden, K = model_.head_input();
    const float* head_in = N > 0 ? act_.data() : dropped_.data();
    CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_T, K, C, B, &one, head_in, K,
                             dlogits_.data(), C, &zero, grad_.data() + head_w_, K));
    CUBLAS_CHECK(cublasSgemv(cublas_.get(), CUBLAS_OP_N, C, B, &one, dlogits_.data(), C, ones_.data(), 1,
                             &zero, grad_.data() + head_b_, 1));
    grow(dfeatures_, static_cast<size_t>(B) * F);
    if (N > 0) {
      // Through the ReLU and the hidden layer: dW1 [N x F] = dact^T dropped, db1 = column
      // sums of dact, df = dact W1.
      grow(dact_, static_cast<size_t>(B) * N);
      CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, N, B, C, &one, params_.data() + head_w_,
                               N, dlogits_.data(), C, &zero, dact_.data(), N));
      relu_backward(act_.data(), dact_.data(), static_cast<int64_t>(B) * N, stream);
      CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_T, F, N, B, &one, dropped_.data(), F,
                               dact_.data(), N, &zero, grad_.data() + hidden_w_, F));
      CUBLAS_CHECK(cublasSgemv(cublas_.get(), CUBLAS_OP_N, N, B, &one, dact_.data(), N, ones_.data(), 1, &zero,
                               grad_.data() + hidden_b_, 1));
      CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, F, B, N, &one, params_.data() + hidden_w_,
                               F, dact_.data(), N, &zero, dfeatures_.data(), F));
    } else {
      CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, F, B, C, &one, params_.data() + head_w_,
                               F, dlogits_.data(), C, &zero, dfeatures_.data(), F));
    }
    dropout_backward(dfeatures_.data(), mask_.data(), static_cast<int64_t>(B) * F, dfeatures_.data(), stream);

    // Into the top layer's final states (last: the other blocks zero, no loss on y) or its
    // outputs (pooling: no loss on the final states), then through the stack.
    const void* dy = nullptr;
    const void* dhy = nullptr;
    if (model_.pool == Pool::Last) {
      grow(dhy_, state_count);
      scatter_final_hidden_grad(dfeatures_.data(), shape.layers, shape.dirs, B, H, dhy_.data(), stream);
      if (half_) {
        grow(dhy_half_, state_count);
        convert(dhy_.data(), dhy_half_.data(), state_count, stream);
      }
      dhy = typed(dhy_, dhy_half_);
      // dy is a zero buffer, zeroed when it grows.
      const size_t dy_bytes = y_count * rnn_.element_bytes();
      if (dy_zero_.size() < dy_bytes) {
        dy_zero_.resize(dy_bytes);
        dy_zero_.zero(stream);
      }
      dy = dy_zero_.data();
    } else {
      grow(dy_, y_count);
      pool_outputs_grad(model_.pool, dfeatures_.data(), shape.output(), step_offsets_.data(), lengths_.data(), B,
                        batch.steps, batch.padding, argmax_.data(), rows_, dy_.data(), stream);
      dy = dy_.data();
      if (half_) {
        grow(dy_half_, y_count);
        convert(dy_.data(), dy_half_.data(), y_count, stream);
        dy = dy_half_.data();
      }
    }
    if (half_) grow(dx_half_, x_count); else grow(dx_, x_count);
    const void* weights = rnn_weights();
    rnn_.backward_data(weights, typed(y_, y_half_), dy, dhy, /*dcy=*/nullptr, typed(dx_, dx_half_));
    if (half_) {
      half_dweights_.zero(stream);
      rnn_.backward_weights(x_half_.data(), y_half_.data(), half_dweights_.data());
      convert(half_dweights_.data(), grad_.data(), space_, stream);
    } else {
      rnn_.backward_weights(x_.data(), y_.data(), grad_.data());  // ADD into the zeroed region
    }

    if (embed_dropped_) {  // through the embedding dropout's mask, in fp32
      if (half_) {
        grow(dx_, x_count);
        convert(dx_half_.data(), dx_.data(), x_count, stream);
      }
      dropout_backward(dx_.data(), embed_mask_.data(), static_cast<int64_t>(x_count), dx_.data(), stream);
    }
    if (half_ && !embed_dropped_)
      embedding_grad(dx_half_.data(), E, tokens_.data(), rows_, model_.vocab_size, grad_.data() + embedding_,
                     options_.deterministic, embedding_ws_, stream);
    else
      embedding_grad(dx_.data(), E, tokens_.data(), rows_, model_.vocab_size, grad_.data() + embedding_,
                     options_.deterministic, embedding_ws_, stream);
  }

  void ensure_ones(int count) {
    if (ones_.size() >= static_cast<size_t>(count)) return;
    ones_.upload(std::vector<float>(static_cast<size_t>(count), 1.0f), stream_.get());
  }

  ModelConfig model_;
  OptimConfig optim_;
  BackendOptions options_;
  ParamLayout canonical_;
  std::optional<std::array<int64_t, 2>> profile_steps_;
  std::string device_name_;
  int device_;
  Stream stream_;
  CudnnHandle cudnn_;
  CublasHandle cublas_;
  CudnnRnn rnn_;
  bool half_;

  // Flat device layout, in elements.
  size_t space_ = 0, embedding_ = 0, head_w_ = 0, head_b_ = 0, hidden_w_ = 0, hidden_b_ = 0, total_ = 0;
  DeviceBuffer<float> params_, grad_, m_, v_;
  DeviceBuffer<__half> half_weights_, half_dweights_;
  bool half_weights_current_ = false;
  int64_t adam_step_ = 0;
  uint64_t dropout_seed_ = 0, dropout_counter_ = 0;
  int64_t steps_taken_ = 0;
  bool profiling_ = false;

  std::array<DeviceSplit, 4> splits_;
  BatchStats host_stats_;  // count and tokens; loss and correct accumulate on the device
  DeviceBuffer<double> loss_sum_, clip_partials_, clip_sum_;
  DeviceBuffer<unsigned long long> correct_;
  DeviceBuffer<float> clip_scale_;
  DeviceBuffer<NonfiniteGuard> guard_;
  int64_t guard_steps_folded_ = 0;  // train steps already folded since the last take_stats

  // Per-batch scratch, grown as needed and reused.
  int64_t rows_ = 0;
  std::vector<uint8_t> labels_host_;
  DeviceBuffer<int32_t> reviews_, lengths_, tokens_;
  DeviceBuffer<int64_t> step_offsets_;
  DeviceBuffer<uint8_t> labels_;
  DeviceBuffer<float> x_, y_, hy_, cy_, dhy_, dx_;
  DeviceBuffer<__half> x_half_, y_half_, hy_half_, cy_half_, dhy_half_, dx_half_;
  DeviceBuffer<unsigned char> dy_zero_;
  DeviceBuffer<float> features_, dropped_, mask_, logits_, dlogits_, dfeatures_, prob_, ones_;
  DeviceBuffer<float> embed_mask_, y_pool_, dy_, act_, dact_;
  DeviceBuffer<__half> dy_half_;
  DeviceBuffer<int32_t> argmax_;
  bool embed_dropped_ = false;
  EmbeddingGradWorkspace embedding_ws_;
};

}  // namespace
}  // namespace cuda

bool cuda_backend_built() { return true; }

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& model, const OptimConfig& optim,
                                           const BackendOptions& options, uint64_t seed) {
  return std::make_unique<cuda::CudaBackend>(model, optim, options, seed);
}

}  // namespace rnnb

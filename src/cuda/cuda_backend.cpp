// The cuDNN backend: the CPU backend's training step (cpu/cpu_backend.cpp) on the GPU.
// Tokens are assembled on the device from splits copied there once; cuDNN runs the
// recurrent stack, cuBLAS the head, the kernels in kernels/ everything else. All parameters
// live in one flat device buffer [cuDNN weight space | embedding | head W | head b |
// hidden head W | hidden head b] with
// gradient, Adam moments of the same layout, so clipping and Adam are one launch each.
// Loss and accuracy accumulate on the device; take_stats() is the only wait for the GPU.
// The head's cuBLAS calls live in cuda/cublas_head.cpp, the per-batch buffers and the table
// that sizes them in cuda/batch_buffers.h.
#include <cuda_fp16.h>
#include <cuda_profiler_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

#include "kernels/adam.h"
#include "kernels/clip.h"
#include "kernels/nonfinite.h"
#include "cuda/batch_buffers.h"
#include "cuda/cublas_head.h"
#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "cuda/nvtx_range.h"
#include "kernels/precision.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/pack.h"
#include "kernels/pool.h"
#include "kernels/softmax_xent.h"
#include "train/backend.h"
#include "util/cublas_workspace.h"
#include "util/error.h"

namespace rnnb {
namespace cuda {
namespace {

// Mixed into the dropout seed for the embedding and word dropouts' streams (the head's
// uses the seed).
constexpr uint64_t kEmbedDropoutStream = 0x6a09e667f3bcc908ULL;
constexpr uint64_t kWordDropoutStream = 0xbb67ae8584caa73bULL;

// A split resident on the device.
struct DeviceSplit {
  const TokenizedSplit* host = nullptr;
  DeviceBuffer<int32_t> tokens;
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<uint8_t> labels;  // batches gather theirs on the device
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
              uint64_t seed, const BackendHooks& hooks)
      : model_(model),
        optim_(optim),
        options_(options),
        hooks_(hooks),
        canonical_(model),
        profile_steps_(parse_profile_steps(options.profile_steps)),
        device_(select_device(options.device_index)),
        stream_(),
        // Bound to the stream before CudnnRnn's constructor queues work on the handle.
        cudnn_(make_cudnn_handle(stream_.get())),
        cublas_(make_cublas(options.deterministic, stream_.get())),
        rnn_(init_rnn(model, options, seed)),
        half_(rnn_.data_type() == CUDNN_DATA_HALF),
        loss_scale_(!half_ ? 1.0f : options.loss_scale > 0.0f ? options.loss_scale : kDefaultFp16LossScale),
        head_(cublas_.get(), model.features(), model.head_hidden, model.classes) {
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
    grad_.zero(stream_.get());  // last_gradient() before a step reads no garbage
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

  void attach(Slot slot, const TokenizedSplit& set) override {
    DeviceSplit& split = splits_[static_cast<int>(slot)];
    split.host = &set;
    split.tokens.upload(set.tokens, stream_.get());
    split.offsets.upload(set.offsets, stream_.get());
    split.labels.upload(set.labels, stream_.get());
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
    if (steps_taken_ == hooks_.inject_nan_at_step)  // test hook: all-ones bytes are a NaN
      CUDA_CHECK(cudaMemsetAsync(grad_.data() + total_ / 2, 0xFF, sizeof(float), stream_.get()));
    {
      NvtxRange range("optimizer");
      // The squared norm every step: the guard needs it even without clipping.
      grad_sum_of_squares(grad_.data(), total_, clip_partials_.data(), clip_sum_.data(), stream_.get());
      nonfinite_check(guard_.data(), clip_sum_.data(), batch.size(), loss_sum_.data(), correct_.data(),
                      stream_.get());
      // One factor for Adam: the clip factor of the true norm, and the loss scale undone.
      // An overflow of the scaled gradient made the sum of squares non-finite: the guard
      // above has already marked the step skipped.
      const float* scale = nullptr;
      if (optim_.clip_norm > 0.0f || loss_scale_ != 1.0f) {
        grad_clip_scale(clip_sum_.data(), optim_.clip_norm, loss_scale_, clip_scale_.data(), nullptr,
                        stream_.get());
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
    double temp = 0.0;
    try {
      temp = static_cast<double>(
          std::max(rnn_.temp_space_bytes(lengths, false, true), rnn_.temp_space_bytes(lengths, true, true)));
    } catch (const Error& e) {
      // A refused --algo already says what to change; other refusals are of the shape.
      if (std::string(e.what()).find("cuDNN refuses --algo") != std::string::npos) throw;
      fail(what + " is beyond what cuDNN accepts (" + e.what() + "): lower --batch-size or --max-len");
    }
    // The per-batch buffers, from the same table the allocations use.
    const BatchDims dims{batch_size, static_cast<int64_t>(rows), longest, /*train=*/true, half_};
    const double need = temp + batch_buffer_bytes(buffers_, model_, dims);
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

  std::vector<float> last_gradient() override {
    if (steps_taken_ == 0) return {};
    std::vector<float> flat = grad_.download(stream_.get());
    // The loss scale is a power of two by default: this undoes it exactly.
    if (loss_scale_ != 1.0f)
      for (float& g : flat) g /= loss_scale_;
    return to_canonical_layout(flat);
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

  // The head's handle. With --deterministic, cuBLAS's workspace configuration must be fixed
  // before the handle is created (cuBLAS reads it from the environment then).
  static CublasHandle make_cublas(bool deterministic, cudaStream_t stream) {
    const CublasWorkspaceDecision decision =
        decide_cublas_workspace(deterministic, std::getenv(kCublasWorkspaceVariable));
    if (!decision.error.empty()) throw UsageError(decision.error);
    if (!decision.set_to.empty() && setenv(kCublasWorkspaceVariable, decision.set_to.c_str(), 1) != 0)
      fail(std::string("could not set ") + kCublasWorkspaceVariable + " for --deterministic");
    return make_cublas_handle(stream);
  }

  CudnnRnn init_rnn(const ModelConfig& model, const BackendOptions& options, uint64_t seed) {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = prop.name;
    RnnOptions rnn_options;
    rnn_options.algo = options.algo;
    rnn_options.math = options.math;
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

  const TokenizedSplit& attached(Slot slot, const DeviceSplit** split) const {
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

  // fp32 <-> fp16 between device buffers: every crossing between the master (fp32) values
  // and the half-precision RNN's data goes through here.
  template <typename In, typename Out>
  void convert_into(const DeviceBuffer<In>& from, DeviceBuffer<Out>& to, size_t count) {
    RNNB_ASSERT(from.size() >= count && to.size() >= count);
    convert(from.data(), to.data(), count, stream_.get());
  }

  // The weights cuDNN reads: the fp32 master region, or its fp16 copy.
  const void* rnn_weights() {
    if (!half_) return params_.data();
    if (!half_weights_current_) {
      convert_into(params_, half_weights_, space_);
      half_weights_current_ = true;
    }
    return half_weights_.data();
  }
  void* typed(DeviceBuffer<float>& f, DeviceBuffer<__half>& h) {
    return half_ ? static_cast<void*>(h.data()) : static_cast<void*>(f.data());
  }

  HeadWeights head_weights() const {
    const float* p = params_.data();
    return HeadWeights{p + hidden_w_, p + hidden_b_, p + head_w_, p + head_b_};
  }
  HeadGradients head_gradients() {
    float* g = grad_.data();
    return HeadGradients{g + hidden_w_, g + hidden_b_, g + head_w_, g + head_b_};
  }

  // The batch's step offsets, reviews and lengths in one copy (BatchBuffers::meta).
  const int64_t* step_offsets() const { return reinterpret_cast<const int64_t*>(buffers_.meta.data()); }
  const int32_t* batch_reviews(int steps) const {
    return reinterpret_cast<const int32_t*>(buffers_.meta.data() + static_cast<size_t>(steps + 1) * sizeof(int64_t));
  }
  const int32_t* batch_lengths(int batch, int steps) const { return batch_reviews(steps) + batch; }

  // Embedding, recurrent stack, head and loss; keeps what backward() needs.
  void forward(Slot slot, const Batch& batch, bool train, float* prob_positive) {
    const DeviceSplit* split = nullptr;
    attached(slot, &split);
    cudaStream_t stream = stream_.get();
    const RnnShape shape = model_.rnn_shape();
    const int B = batch.size(), E = model_.embed, C = model_.classes;
    const int H = shape.hidden;
    const bool padded = batch.padding != Padding::Packed;
    RNNB_ASSERT(B > 0 && batch.steps >= 1);
    BatchBuffers& buf = buffers_;

    {
      NvtxRange range("batch assembly");
      const std::vector<int64_t> offsets = step_row_offsets(batch.batch_sizes());
      rows_ = offsets.back();
      size_batch_buffers(buf, model_, BatchDims{B, rows_, batch.steps, train, half_}, stream);
      // Pageable host memory is staged at the call, so meta_host_ may change right after.
      meta_host_.resize(BatchBuffers::meta_bytes(B, batch.steps));
      unsigned char* at = meta_host_.data();
      std::memcpy(at, offsets.data(), offsets.size() * sizeof(int64_t));
      at += offsets.size() * sizeof(int64_t);
      std::memcpy(at, batch.reviews.data(), static_cast<size_t>(B) * sizeof(int32_t));
      std::memcpy(at + static_cast<size_t>(B) * sizeof(int32_t), batch.lengths.data(),
                  static_cast<size_t>(B) * sizeof(int32_t));
      CUDA_CHECK(cudaMemcpyAsync(buf.meta.data(), meta_host_.data(), meta_host_.size(), cudaMemcpyHostToDevice,
                                 stream));
      pack_batch_tokens(split->tokens.data(), split->offsets.data(), batch_reviews(batch.steps),
                        batch_lengths(B, batch.steps), step_offsets(), B, batch.steps, batch.padding,
                        buf.tokens.data(), stream);
      gather_labels(split->labels.data(), batch_reviews(batch.steps), B, buf.labels.data(), stream);
      if (train)
        word_dropout(buf.tokens.data(), rows_, model_.word_dropout, dropout_seed_ ^ kWordDropoutStream,
                     dropout_counter_, stream);
    }

    const size_t x_count = static_cast<size_t>(rows_) * E;
    const size_t y_count = static_cast<size_t>(rows_) * shape.output();
    const size_t state_count = static_cast<size_t>(shape.layers) * shape.dirs * B * H;
    {
      NvtxRange range("embedding");
      embed_dropped_ = train && model_.embed_dropout > 0.0f;
      if (half_ && !embed_dropped_) {
        embedding_gather(params_.data() + embedding_, E, buf.tokens.data(), rows_, buf.x_half.data(), stream);
      } else {
        embedding_gather(params_.data() + embedding_, E, buf.tokens.data(), rows_, buf.x.data(), stream);
      }
      if (embed_dropped_) {
        // Its own stream: the head dropout's seed and step, with the seed mixed.
        dropout_forward(buf.x.data(), static_cast<int64_t>(x_count), model_.embed_dropout,
                        dropout_seed_ ^ kEmbedDropoutStream, dropout_counter_, buf.x.data(), buf.embed_mask.data(),
                        stream);
        if (half_) convert_into(buf.x, buf.x_half, x_count);
      }
    }
    {
      NvtxRange range("rnn forward");
      rnn_.set_batch(padded ? std::vector<int>(B, batch.steps)
                            : std::vector<int>(batch.lengths.begin(), batch.lengths.end()),
                     padded, train);
      RNNB_ASSERT(rnn_.rows() == rows_);
      const bool lstm = model_.cell == Cell::Lstm;
      rnn_.forward(rnn_weights(), typed(buf.x, buf.x_half), typed(buf.y, buf.y_half), typed(buf.hy, buf.hy_half),
                   lstm ? typed(buf.cy, buf.cy_half) : nullptr, train);
      if (half_) convert_into(buf.hy_half, buf.hy, state_count);
    }
    {
      NvtxRange range("head");
      if (model_.pool == Pool::Last) {
        gather_final_hidden(buf.hy.data(), shape.layers, shape.dirs, B, H, buf.features.data(), stream);
      } else {
        const float* y = buf.y.data();
        if (half_) {  // pooling reads fp32 outputs
          convert_into(buf.y_half, buf.y_pool, y_count);
          y = buf.y_pool.data();
        }
        pool_outputs(model_.pool, y, shape.output(), step_offsets(), batch_lengths(B, batch.steps), B, batch.steps,
                     batch.padding, buf.features.data(), buf.argmax.data(), stream);
      }
      const float p = train ? model_.head_dropout : 0.0f;
      dropout_forward(buf.features.data(), static_cast<int64_t>(buf.features.size()), p, dropout_seed_,
                      dropout_counter_, buf.dropped.data(), buf.mask.data(), stream);
      if (train) ++dropout_counter_;
      head_.forward(buf.dropped.data(), B, head_weights(), buf.act.data(), buf.logits.data());
    }
    {
      NvtxRange range("loss");
      softmax_xent_batch(buf.logits.data(), buf.labels.data(), B, C, train ? buf.dlogits.data() : nullptr,
                         prob_positive ? buf.prob.data() : nullptr, loss_sum_.data(), correct_.data(), stream);
      if (train && loss_scale_ != 1.0f)  // fp16 loss scaling: the whole backward runs scaled
        CUBLAS_CHECK(cublasSscal(cublas_.get(), B * C, &loss_scale_, buf.dlogits.data(), 1));
      host_stats_.count += B;
      host_stats_.real_tokens += batch.real_tokens();
      host_stats_.computed_tokens += batch.computed_tokens();
      if (prob_positive) {
        // The caller reads the probabilities on return.
        CUDA_CHECK(cudaMemcpyAsync(prob_positive, buf.prob.data(), sizeof(float) * B, cudaMemcpyDeviceToHost,
                                   stream));
        stream_.synchronize();
      }
    }
  }

  // Gradients of the last train forward into grad_ (the flat layout), times loss_scale_.
  void backward(const Batch& batch) {
    NvtxRange range("backward");
    cudaStream_t stream = stream_.get();
    const RnnShape shape = model_.rnn_shape();
    const int B = batch.size(), E = model_.embed, F = model_.features();
    const int H = shape.hidden;
    const size_t state_count = static_cast<size_t>(shape.layers) * shape.dirs * B * H;
    const size_t y_count = static_cast<size_t>(rows_) * shape.output();
    const size_t x_count = static_cast<size_t>(rows_) * E;
    BatchBuffers& buf = buffers_;
    grad_.zero(stream);

    head_.backward(buf.dropped.data(), buf.act.data(), buf.dlogits.data(), B, head_weights(), head_gradients(),
                   buf.dfeatures.data(), buf.dact.data());
    dropout_backward(buf.dfeatures.data(), buf.mask.data(), static_cast<int64_t>(B) * F, buf.dfeatures.data(),
                     stream);

    // Into the top layer's final states (last: the other blocks zero, no loss on y) or its
    // outputs (pooling: no loss on the final states), then through the stack.
    const void* dy = nullptr;
    const void* dhy = nullptr;
    if (model_.pool == Pool::Last) {
      scatter_final_hidden_grad(buf.dfeatures.data(), shape.layers, shape.dirs, B, H, buf.dhy.data(), stream);
      if (half_) convert_into(buf.dhy, buf.dhy_half, state_count);
      dhy = typed(buf.dhy, buf.dhy_half);
      dy = buf.dy_zero.data();  // zeroed when allocated (batch_buffers.h)
    } else {
      pool_outputs_grad(model_.pool, buf.dfeatures.data(), shape.output(), step_offsets(),
                        batch_lengths(B, batch.steps), B, batch.steps, batch.padding, buf.argmax.data(), rows_,
                        buf.dy.data(), stream);
      if (half_) convert_into(buf.dy, buf.dy_half, y_count);
      dy = typed(buf.dy, buf.dy_half);
    }
    const void* weights = rnn_weights();
    rnn_.backward_data(weights, typed(buf.y, buf.y_half), dy, dhy, /*dcy=*/nullptr, typed(buf.dx, buf.dx_half));
    if (half_) {
      half_dweights_.zero(stream);
      rnn_.backward_weights(buf.x_half.data(), buf.y_half.data(), half_dweights_.data());
      convert_into(half_dweights_, grad_, space_);
    } else {
      rnn_.backward_weights(buf.x.data(), buf.y.data(), grad_.data());  // ADD into the zeroed region
    }

    if (embed_dropped_) {  // through the embedding dropout's mask, in fp32
      if (half_) convert_into(buf.dx_half, buf.dx, x_count);
      dropout_backward(buf.dx.data(), buf.embed_mask.data(), static_cast<int64_t>(x_count), buf.dx.data(), stream);
    }
    if (half_ && !embed_dropped_)
      embedding_grad(buf.dx_half.data(), E, buf.tokens.data(), rows_, model_.vocab_size, grad_.data() + embedding_,
                     options_.deterministic, embedding_ws_, stream);
    else
      embedding_grad(buf.dx.data(), E, buf.tokens.data(), rows_, model_.vocab_size, grad_.data() + embedding_,
                     options_.deterministic, embedding_ws_, stream);
  }

  ModelConfig model_;
  OptimConfig optim_;
  BackendOptions options_;
  BackendHooks hooks_;
  ParamLayout canonical_;
  std::optional<std::array<int64_t, 2>> profile_steps_;
  std::string device_name_;
  int device_;
  Stream stream_;
  CudnnHandle cudnn_;
  CublasHandle cublas_;
  CudnnRnn rnn_;
  bool half_;
  float loss_scale_;  // what dlogits is multiplied by (fp16); 1 otherwise
  CublasHead head_;

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

  // Per-batch scratch, sized by batch_buffers.h's table and reused.
  int64_t rows_ = 0;
  std::vector<unsigned char> meta_host_;
  BatchBuffers buffers_;
  bool embed_dropped_ = false;
  EmbeddingGradWorkspace embedding_ws_;
};

}  // namespace
}  // namespace cuda

bool cuda_backend_built() { return true; }

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& model, const OptimConfig& optim,
                                           const BackendOptions& options, uint64_t seed,
                                           const BackendHooks& hooks) {
  return std::make_unique<cuda::CudaBackend>(model, optim, options, seed, hooks);
}

}  // namespace rnnb

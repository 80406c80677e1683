// The one small interface both backends implement. The trainer owns the loop, batches,
// logging and checkpoints; a backend owns the parameters and optimizer state on its device
// and runs one batch at a time. Parameters cross this interface only in the canonical
// layout (model/model_config.h), so a checkpoint from one backend loads in the other.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/batching.h"
#include "data/tokenized_split.h"
#include "model/model_config.h"
#include "model/rnn_algo.h"
#include "util/error.h"

namespace rnnb {

// Everything that determines the continuation of a run, in the canonical layout.
struct TrainState {
  std::vector<float> params;  // ParamLayout::total floats
  std::vector<float> adam_m, adam_v;
  int64_t adam_step = 0;
  std::array<uint64_t, 4> dropout_rng{};  // CPU dropout stream (GPU: seed + step counter)
};

// Sums over the batches since the last take_stats().
struct BatchStats {
  double loss_sum = 0.0;
  int64_t correct = 0;
  int64_t count = 0;
  int64_t real_tokens = 0;
  int64_t computed_tokens = 0;
  // Training steps whose loss or gradient was not finite: the backend made no parameter or
  // Adam update for them, and their loss is not in loss_sum (GPU: see docs/RELIABILITY.md).
  int64_t skipped = 0;
  int64_t first_skipped = -1;  // index among the train steps since the last take_stats()
};

// Which dataset slot a batch indexes into.
enum class Slot { Train = 0, Validation = 1, Test = 2, Scratch = 3 };

struct BackendOptions {
  // GPU only; the CPU backend refuses anything but the defaults.
  RnnAlgo algo = RnnAlgo::Standard;
  RnnMath math = RnnMath::Fp32;
  bool deterministic = false;
  int device_index = 0;
  int threads = 0;  // CPU: the thread team's size; 0 = every hardware thread
  std::string profile_steps;  // GPU: "A:B" runs cudaProfilerStart before step A, Stop after B
  // GPU, --math fp16: the static loss scale the logit gradient is multiplied by, so small
  // fp16 gradients do not underflow (undone before clipping and Adam). 0 = the default,
  // kDefaultFp16LossScale; other math ignores it.
  float loss_scale = 0.0f;
};

// Test hooks, set from the environment by the CLI only (like TrainHooks); 0 = off. Not
// user options, so they stay out of BackendOptions.
struct BackendHooks {
  // RNNB_INJECT_NAN_AT_STEP: the n-th train_step of this backend (1-based) gets a NaN in
  // its gradient.
  int64_t inject_nan_at_step = 0;
};

// A power of two (so scaling and unscaling are exact in fp32), large enough to lift the
// gradients of long reviews out of fp16's subnormal range, small enough that a batch's
// gradients stay far below fp16's maximum (65504) for the shapes we train.
inline constexpr float kDefaultFp16LossScale = 1024.0f;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu" or "cuda:<gpu name>"

  // Makes a split available to batches (the GPU copies it to device memory once).
  virtual void attach(Slot slot, const TokenizedSplit& set) = 0;

  // Forward, backward, clipping and one Adam step on a batch of `slot`. Adds to the stats.
  virtual void train_step(Slot slot, const Batch& batch, float lr) = 0;

  // Forward only (no dropout). Adds to the stats; writes P(positive) for each review of the
  // batch, in batch order, when prob_positive is non-null.
  virtual void evaluate(Slot slot, const Batch& batch, float* prob_positive) = 0;

  // Returns and clears the accumulated stats (the only point that waits for the device).
  virtual BatchStats take_stats() = 0;

  // Throws Error, saying what to lower, when batches of `batch_size` reviews of up to
  // `longest` tokens would not fit in the device's free memory. The CPU has nothing to check.
  virtual void check_memory(int batch_size, int longest) {}

  virtual void set_state(const TrainState& state) = 0;
  virtual TrainState state() = 0;

  // The gradient of the last train_step's mean loss with respect to every parameter, in the
  // canonical layout (ParamLayout::total floats): before clipping, weight decay and Adam,
  // and without any loss scale. Empty before the first train_step. For tests: the GPU
  // copies it back (a wait).
  virtual std::vector<float> last_gradient() = 0;
};

// Fresh parameters: embedding N(0, 1) like torch.nn.Embedding; recurrent weights and
// biases U(-1/sqrt(H), 1/sqrt(H)) like torch.nn.RNN/GRU/LSTM; each head layer
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch.nn.Linear.
TrainState initial_state(const ModelConfig& config, uint64_t seed);

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& model, const OptimConfig& optim,
                                          const BackendOptions& options, uint64_t seed,
                                          const BackendHooks& hooks = {});
// No GPU on this machine (no driver, or no device): what `--device auto` falls back on.
// The message says so plainly; detail() keeps CUDA's own words for those who have a GPU.
class NoGpuError : public Error {
 public:
  explicit NoGpuError(const std::string& detail) : Error("no GPU found (" + detail + ")"), detail_(detail) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// Throws NoGpuError when no GPU is found, Error when the build has no CUDA or the GPU
// cannot be used.
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& model, const OptimConfig& optim,
                                           const BackendOptions& options, uint64_t seed,
                                           const BackendHooks& hooks = {});
bool cuda_backend_built();

}  // namespace rnnb

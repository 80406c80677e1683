// The recurrent stack on cuDNN's RNN API (cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8) over packed variable-length or padded batches, and the map
// between the canonical weight layout (model/rnn_shape.h) and cuDNN's weight space.
//
// Data layouts match CpuRnn (cpu/rnn_cpu.h): x [N x input] and y [N x dirs*H] time-major
// packed (sequences sorted by decreasing length), hy/cy [layers*dirs x B x H]. A padded
// batch runs every sequence for `steps` steps, which is the same memory layout with every
// batch size equal to B. Initial states are zero. All calls are asynchronous on the
// stream set on the cuDNN handle.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cuda/cudnn_handles.h"
#include "cuda/device_buffer.h"
#include "model/rnn_algo.h"
#include "model/rnn_shape.h"

namespace rnnb::cuda {

// The cuDNN releases this code is written against: the 9.x API (the v8 RNN calls,
// cudnnGetLastErrorString), 9.0 or newer. The loaded library is checked at run time, since
// a GPU machine's cuDNN (e.g. PyTorch's wheel) may be older than the headers it was built with.
inline constexpr size_t kOldestCudnn = 90000;
inline constexpr size_t kNextCudnnMajor = 100000;
// Empty when `version` (cudnnGetVersion()'s number) is supported, else the one-line reason.
std::string cudnn_version_problem(size_t version);
// Throws Error naming the loaded cuDNN when cudnn_version_problem says it is unsupported.
void require_supported_cudnn();

// RnnAlgo and RnnMath (model/rnn_algo.h) are rnnb's; cudnn_rnn.cpp maps them to cuDNN's.
struct RnnOptions {
  RnnAlgo algo = RnnAlgo::Standard;
  RnnMath math = RnnMath::Fp32;
  // Between stacked layers, training only (inference runs descriptors with p = 0, as
  // PyTorch does). cuDNN's generator state lives on the device and is not checkpointed:
  // with dropout, a resumed run is not bit-identical to an uninterrupted one.
  float dropout = 0.0f;
  uint64_t seed = 0;  // of cuDNN's dropout generator
};

// A contiguous run of weights: `count` elements at `canonical` in the canonical layout and
// at `space` in the weight space (both in elements, not bytes).
struct WeightPiece {
  size_t canonical = 0;
  size_t space = 0;
  size_t count = 0;
  bool operator==(const WeightPiece&) const = default;
};

class CudnnRnn {
 public:
  // `handle` must outlive this object; its stream is the one every call runs on, and must
  // be set before construction (the dropout generator is initialized on it here).
  CudnnRnn(cudnnHandle_t handle, const RnnShape& shape, const RnnOptions& options);

  const RnnShape& shape() const { return shape_; }
  const RnnOptions& options() const { return options_; }
  cudnnDataType_t data_type() const { return data_type_; }
  size_t element_bytes() const { return data_type_ == CUDNN_DATA_HALF ? 2 : 4; }

  // The weight space: its size, and where each canonical weight lives in it. Elements of
  // the space that no piece covers are padding (kept zero).
  size_t weight_space_bytes() const { return weight_space_bytes_; }
  size_t weight_space_elements() const { return weight_space_bytes_ / element_bytes(); }
  const std::vector<WeightPiece>& weight_map() const { return weight_map_; }

  // Host-side layout conversions through weight_map(); `space` has weight_space_elements().
  // to_space leaves uncovered elements untouched.
  template <typename T>
  void to_space(const T* canonical, T* space) const {
    for (const WeightPiece& p : weight_map_)
      for (size_t i = 0; i < p.count; ++i) space[p.space + i] = canonical[p.canonical + i];
  }
  template <typename T>
  void to_canonical(const T* space, T* canonical) const {
    for (const WeightPiece& p : weight_map_)
      for (size_t i = 0; i < p.count; ++i) canonical[p.canonical + i] = space[p.space + i];
  }

  // Describes the next batch: per-sequence lengths (non-increasing, >= 1), whether it is
  // padded (then every sequence runs max(lengths) steps), and whether it trains (only then
  // is a reserve space kept). Uploads the lengths to the device (asynchronously) and grows
  // the workspace and reserve space as needed. Temp-space sizes are cached per batch
  // shape; persist-dynamic plans are built once per layout, mode and batch size.
  void set_batch(const std::vector<int>& lengths, bool padded, bool train);
  int64_t rows() const { return rows_; }  // N: rows of x and y

  // Workspace + reserve-space bytes that a batch with these lengths needs (for
  // persist-dynamic, from the plan for its batch size, built here if new).
  size_t temp_space_bytes(const std::vector<int>& lengths, bool padded, bool train);
  // Persist-dynamic plans built so far (one per layout, mode and batch size).
  size_t dynamic_plans() const { return dynamic_plans_.size(); }

  // Runs the stack on the batch of the last set_batch() (train only after a training
  // set_batch). With train, keeps what the
  // backward calls need in the reserve space and applies dropout between layers.
  // cy is for LSTM only (null otherwise); hy/cy may be null when not wanted.
  void forward(const void* weights, const void* x, void* y, void* hy, void* cy, bool train);
  // Gradients of the last train forward, in this order: backward_data, then
  // backward_weights. dy must be given (zeros when no loss reaches the outputs); dhy/dcy
  // may be null (zero). backward_weights ADDS into dweights.
  void backward_data(const void* weights, const void* y, const void* dy, const void* dhy,
                     const void* dcy, void* dx);
  void backward_weights(const void* x, const void* y, void* dweights);

 private:
  struct TempSizes {
    size_t train_workspace = 0, train_reserve = 0, infer_workspace = 0;
  };
  void configure_descriptor(cudnnRNNDescriptor_t desc, bool padded, bool train);
  std::vector<WeightPiece> query_weight_map(cudnnRNNDescriptor_t desc);
  // The descriptor for a layout and mode; for persist-dynamic, the plan built (once) for
  // that batch size. descriptor() is the current batch's.
  cudnnRNNDescriptor_t plan(bool padded, bool train, int batch);
  cudnnRNNDescriptor_t descriptor(bool train) { return plan(padded_, train, batch_); }
  cudnnRNNDescriptor_t static_descriptor(bool padded, bool train) const;
  void describe(cudnnRNNDataDescriptor_t x_desc, cudnnRNNDataDescriptor_t y_desc,
                cudnnTensorDescriptor_t h_desc, const std::vector<int>& lengths, bool padded);
  TempSizes query_temp_sizes(cudnnRNNDataDescriptor_t x_desc, bool padded, int batch);
  void check(cudnnStatus_t status, bool padded, const char* call, const char* file, int line) const;

  cudnnHandle_t handle_;
  RnnShape shape_;
  RnnOptions options_;
  cudnnDataType_t data_type_;
  bool has_dropout_ = false;  // dropout > 0 between at least two layers
  DropoutDescriptor dropout_desc_, no_dropout_desc_;
  DeviceBuffer<unsigned char> dropout_states_;
  // [padded][train]; without dropout the inference entries alias the training ones.
  RnnDescriptor descriptors_[2][2];
  size_t weight_space_bytes_ = 0;
  std::vector<WeightPiece> weight_map_;
  std::map<std::tuple<bool, bool, int>, RnnDescriptor> dynamic_plans_;  // (padded, train, batch)
  std::map<std::pair<bool, std::vector<int>>, TempSizes> temp_sizes_;   // (padded, lengths)

  // The current batch.
  bool padded_ = false;
  bool train_batch_ = false;
  int batch_ = 0;
  int steps_ = 0;
  int64_t rows_ = 0;
  std::vector<int32_t> seq_lengths_;
  DeviceBuffer<int32_t> dev_seq_lengths_;
  RnnDataDescriptor x_desc_, y_desc_;
  TensorDescriptor h_desc_;
  size_t workspace_bytes_ = 0, reserve_bytes_ = 0;
  DeviceBuffer<unsigned char> workspace_, reserve_;
};

}  // namespace rnnb::cuda

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
#include <string>
#include <vector>

#include "cuda/cudnn_handles.h"
#include "cuda/device_buffer.h"
#include "model/rnn_shape.h"

namespace rnnb::cuda {

enum class RnnAlgo { Standard, PersistStatic, PersistDynamic, PersistStaticSmallH };
// fp32: strict fp32 FMA; tf32: fp32 data, tensor cores may round to TF32; fp16: half data
// and weights with fp32 accumulation on tensor cores.
enum class RnnMath { Fp32, Tf32, Fp16 };

RnnAlgo parse_rnn_algo(const std::string& name);  // throws UsageError
RnnMath parse_rnn_math(const std::string& name);  // throws UsageError
std::string rnn_algo_name(RnnAlgo algo);
std::string rnn_math_name(RnnMath math);

struct RnnOptions {
  RnnAlgo algo = RnnAlgo::Standard;
  RnnMath math = RnnMath::Fp32;
  float dropout = 0.0f;  // between stacked layers, training only
  uint64_t seed = 0;     // of cuDNN's dropout generator
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
  // `handle` must outlive this object; its stream is the one every call runs on.
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

  // Describes the next batch: per-sequence lengths (non-increasing, >= 1) and whether it
  // is padded (then every sequence runs max(lengths) steps). Uploads the lengths to the
  // device (asynchronously) and grows the workspace and reserve space as needed.
  void set_batch(const std::vector<int>& lengths, bool padded);
  int batch_size() const { return batch_; }
  int64_t rows() const { return rows_; }  // N: rows of x and y

  // Workspace + reserve-space bytes that a batch with these lengths needs.
  size_t temp_space_bytes(const std::vector<int>& lengths, bool padded, bool train);

  // Runs the stack on the batch of the last set_batch(). With train, keeps what the
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
  void configure_descriptor(cudnnRNNDescriptor_t desc, bool padded);
  std::vector<WeightPiece> query_weight_map(cudnnRNNDescriptor_t desc);
  cudnnRNNDescriptor_t descriptor() const;
  void describe(cudnnRNNDataDescriptor_t x_desc, cudnnRNNDataDescriptor_t y_desc,
                cudnnTensorDescriptor_t h_desc, const std::vector<int>& lengths, bool padded);
  void build_dynamic(int batch);
  void check(cudnnStatus_t status, const char* call, const char* file, int line) const;

  cudnnHandle_t handle_;
  RnnShape shape_;
  RnnOptions options_;
  cudnnDataType_t data_type_;
  DropoutDescriptor dropout_desc_;
  DeviceBuffer<unsigned char> dropout_states_;
  RnnDescriptor packed_desc_, padded_desc_;
  size_t weight_space_bytes_ = 0;
  std::vector<WeightPiece> weight_map_;

  // The current batch.
  bool padded_ = false;
  int batch_ = 0;
  int steps_ = 0;
  int64_t rows_ = 0;
  int dynamic_built_for_[2] = {0, 0};  // PERSIST_DYNAMIC plans, per descriptor
  std::vector<int32_t> seq_lengths_;
  DeviceBuffer<int32_t> dev_seq_lengths_;
  RnnDataDescriptor x_desc_, y_desc_;
  TensorDescriptor h_desc_;
  size_t workspace_bytes_ = 0, reserve_bytes_ = 0;
  DeviceBuffer<unsigned char> workspace_, reserve_;
};

}  // namespace rnnb::cuda

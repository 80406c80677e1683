// The recurrent stack on cuDNN's v8/v9 RNN API: descriptors, the weight-space map, and the
// forward and backward calls.
#include "cuda/cudnn_rnn.h"

#include <algorithm>

#include "util/error.h"

// A cuDNN call on a batch layout (padded or packed) whose refusal may be due to the chosen
// algorithm: reported as such, naming the layout.
#define RNN_CHECK(padded, call) check((call), (padded), #call, __FILE__, __LINE__)

namespace rnnb::cuda {
namespace {

cudnnRNNMode_t cell_mode(Cell cell) {
  switch (cell) {
    case Cell::RnnTanh: return CUDNN_RNN_TANH;
    case Cell::RnnRelu: return CUDNN_RNN_RELU;
    case Cell::Gru: return CUDNN_GRU;
    case Cell::Lstm: return CUDNN_LSTM;
  }
  fail("unknown cell");
}

cudnnRNNAlgo_t cudnn_algo(RnnAlgo algo) {
  switch (algo) {
    case RnnAlgo::Standard: return CUDNN_RNN_ALGO_STANDARD;
    case RnnAlgo::PersistStatic: return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case RnnAlgo::PersistDynamic: return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
    case RnnAlgo::PersistStaticSmallH: return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
  }
  fail("unknown RNN algorithm");
}

cudnnMathType_t math_type(RnnMath math) {
  switch (math) {
    case RnnMath::Fp32: return CUDNN_FMA_MATH;       // no tensor cores: strict fp32
    case RnnMath::Tf32: return CUDNN_DEFAULT_MATH;   // fp32 data; TF32 tensor cores allowed
    case RnnMath::Fp16: return CUDNN_TENSOR_OP_MATH;
    case RnnMath::Bf16: throw UsageError("--math bf16 is the CPU backend's; on the GPU use fp16 or tf32");
  }
  fail("unknown RNN math");
}

// Elements described by a tensor descriptor that cudnnGetRNNWeightParams filled in.
size_t described_elements(cudnnTensorDescriptor_t desc) {
  cudnnDataType_t type;
  int dims[8] = {0}, strides[8] = {0}, nb_dims = 0;
  CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc, 8, &type, &nb_dims, dims, strides));
  size_t count = 1;
  for (int i = 0; i < nb_dims; ++i) count *= static_cast<size_t>(dims[i]);
  return count;
}

// Sorted by canonical offset; neighbours that are contiguous in both layouts merge.
std::vector<WeightPiece> merged(std::vector<WeightPiece> pieces) {
  std::sort(pieces.begin(), pieces.end(),
            [](const WeightPiece& a, const WeightPiece& b) { return a.canonical < b.canonical; });
  std::vector<WeightPiece> out;
  for (const WeightPiece& p : pieces) {
    if (!out.empty() && out.back().canonical + out.back().count == p.canonical &&
        out.back().space + out.back().count == p.space)
      out.back().count += p.count;
    else
      out.push_back(p);
  }
  return out;
}

}  // namespace

std::string cudnn_version_problem(size_t version) {
  if (version >= kOldestCudnn && version < kNextCudnnMajor) return "";
  // cuDNN 9 numbers versions major*10000 + minor*100 + patch; cuDNN 8 used major*1000.
  const size_t major = version >= 10000 ? version / 10000 : version / 1000;
  const size_t minor = version >= 10000 ? version / 100 % 100 : version / 100 % 10;
  const std::string loaded = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(version % 100);
  return "the loaded cuDNN is " + loaded + ", but rnnbench needs cuDNN 9 (9.0 or newer): point LD_LIBRARY_PATH "
         "at a cuDNN 9 library (scripts/common.sh finds the one in PyTorch's nvidia wheels)";
}

void require_supported_cudnn() {
  static_assert(CUDNN_MAJOR == 9, "rnnbench is written against the cuDNN 9 API");
  if (const std::string problem = cudnn_version_problem(cudnnGetVersion()); !problem.empty()) fail(problem);
}

CudnnRnn::CudnnRnn(cudnnHandle_t handle, const RnnShape& shape, const RnnOptions& options)
    : handle_(handle),
      shape_(shape),
      options_(options),
      data_type_(options.math == RnnMath::Fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT),
      has_dropout_(options.dropout > 0.0f && shape.layers > 1),
      dropout_desc_(make_dropout_descriptor()),
      no_dropout_desc_(make_dropout_descriptor()),
      x_desc_(make_rnn_data_descriptor()),
      y_desc_(make_rnn_data_descriptor()),
      h_desc_(make_tensor_descriptor()) {
  require_supported_cudnn();
  RNNB_ASSERT(shape.input > 0 && shape.hidden > 0 && shape.layers >= 1);
  RNNB_ASSERT(shape.dirs == 1 || shape.dirs == 2);
  if (options.dropout < 0.0f || options.dropout >= 1.0f)
    throw UsageError("RNN dropout must lie in [0, 1)");

  // cuDNN's generator for dropout between layers (initialized on the handle's stream);
  // p = 0 needs no state, and serves inference.
  CUDNN_CHECK(cudnnSetDropoutDescriptor(no_dropout_desc_.get(), handle_, 0.0f, nullptr, 0, options.seed));
  if (has_dropout_) {
    size_t state_bytes = 0;
    CUDNN_CHECK(cudnnDropoutGetStatesSize(handle_, &state_bytes));
    dropout_states_.resize(state_bytes);
    CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_desc_.get(), handle_, options.dropout,
                                          dropout_states_.data(), state_bytes, options.seed));
  }

  for (bool padded : {false, true})
    for (bool train : {false, true}) {
      if (!train && !has_dropout_) continue;  // aliases the training descriptor
      descriptors_[padded][train] = make_rnn_descriptor();
      configure_descriptor(descriptors_[padded][train].get(), padded, train);
    }

  RNN_CHECK(false, cudnnGetRNNWeightSpaceSize(handle_, static_descriptor(false, true), &weight_space_bytes_));
  RNNB_ASSERT(weight_space_bytes_ % element_bytes() == 0);
  weight_map_ = query_weight_map(static_descriptor(false, true));
  // Every descriptor must share one weight space: the same parameters serve them all.
  for (bool padded : {false, true})
    for (bool train : {false, true}) {
      size_t bytes = 0;
      RNN_CHECK(padded, cudnnGetRNNWeightSpaceSize(handle_, static_descriptor(padded, train), &bytes));
      RNNB_ASSERT(bytes == weight_space_bytes_);
      RNNB_ASSERT(query_weight_map(static_descriptor(padded, train)) == weight_map_);
    }
}

void CudnnRnn::configure_descriptor(cudnnRNNDescriptor_t desc, bool padded, bool train) {
  const cudnnDirectionMode_t dir_mode = shape_.dirs == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL;
  RNN_CHECK(padded, cudnnSetRNNDescriptor_v8(
      desc, cudnn_algo(options_.algo), cell_mode(shape_.cell), CUDNN_RNN_DOUBLE_BIAS, dir_mode,
      CUDNN_LINEAR_INPUT, data_type_, /*mathPrec=*/CUDNN_DATA_FLOAT, math_type(options_.math),
      shape_.input, shape_.hidden, /*projSize=*/shape_.hidden, shape_.layers,
      train && has_dropout_ ? dropout_desc_.get() : no_dropout_desc_.get(),
      padded ? CUDNN_RNN_PADDED_IO_ENABLED : CUDNN_RNN_PADDED_IO_DISABLED));
}

std::vector<WeightPiece> CudnnRnn::query_weight_map(cudnnRNNDescriptor_t desc) {
  // cudnnGetRNNWeightParams reports addresses inside a given weight space: query them
  // against a scratch allocation and keep the offsets.
  DeviceBuffer<unsigned char> scratch(weight_space_bytes_);
  const auto* base = scratch.data();
  TensorDescriptor m_desc = make_tensor_descriptor(), b_desc = make_tensor_descriptor();
  const size_t G = shape_.gates(), H = shape_.hidden, elem = element_bytes();

  std::vector<WeightPiece> pieces;
  size_t covered = 0;
  for (int layer = 0; layer < shape_.layers; ++layer) {
    const size_t I = shape_.layer_input(layer);
    for (int dir = 0; dir < shape_.dirs; ++dir) {
      const int pseudo_layer = layer * shape_.dirs + dir;
      const size_t block = shape_.block_offset(layer, dir);
      for (size_t id = 0; id < 2 * G; ++id) {
        void* m_addr = nullptr;
        void* b_addr = nullptr;
        CUDNN_CHECK(cudnnGetRNNWeightParams(handle_, desc, pseudo_layer, weight_space_bytes_,
                                            scratch.data(), static_cast<int32_t>(id), m_desc.get(),
                                            &m_addr, b_desc.get(), &b_addr));
        RNNB_ASSERT(m_addr != nullptr && b_addr != nullptr);
        // linLayerID 0..G-1: the input (W) gates; G..2G-1: the recurrent (R) gates.
        const bool input_gate = id < G;
        const size_t gate = input_gate ? id : id - G;
        const size_t m_count = input_gate ? H * I : H * H;
        const size_t m_canonical =
            block + (input_gate ? shape_.w_offset(layer) + gate * H * I : shape_.r_offset(layer) + gate * H * H);
        const size_t b_canonical =
            block + (input_gate ? shape_.bw_offset(layer) : shape_.br_offset(layer)) + gate * H;
        RNNB_ASSERT(described_elements(m_desc.get()) == m_count);
        RNNB_ASSERT(described_elements(b_desc.get()) == H);
        const size_t m_bytes = static_cast<size_t>(static_cast<const unsigned char*>(m_addr) - base);
        const size_t b_bytes = static_cast<size_t>(static_cast<const unsigned char*>(b_addr) - base);
        RNNB_ASSERT(m_bytes % elem == 0 && b_bytes % elem == 0);
        RNNB_ASSERT(m_bytes + m_count * elem <= weight_space_bytes_);
        RNNB_ASSERT(b_bytes + H * elem <= weight_space_bytes_);
        pieces.push_back({m_canonical, m_bytes / elem, m_count});
        pieces.push_back({b_canonical, b_bytes / elem, H});
        covered += m_count + H;
      }
    }
  }
  RNNB_ASSERT(covered == shape_.weight_count());
  return merged(std::move(pieces));
}

cudnnRNNDescriptor_t CudnnRnn::static_descriptor(bool padded, bool train) const {
  return descriptors_[padded][train || !has_dropout_].get();
}

cudnnRNNDescriptor_t CudnnRnn::plan(bool padded, bool train, int batch) {
  if (options_.algo != RnnAlgo::PersistDynamic) return static_descriptor(padded, train);
  // The dynamic persistent kernels are compiled for one mini-batch size: one plan per
  // (layout, mode, batch size), built once and kept.
  const auto key = std::make_tuple(padded, train && has_dropout_, batch);
  auto found = dynamic_plans_.find(key);
  if (found == dynamic_plans_.end()) {
    RnnDescriptor built = make_rnn_descriptor();
    configure_descriptor(built.get(), padded, train);
    RNN_CHECK(padded, cudnnBuildRNNDynamic(handle_, built.get(), batch));
    found = dynamic_plans_.emplace(key, std::move(built)).first;
  }
  return found->second.get();
}

void CudnnRnn::check(cudnnStatus_t status, bool padded, const char* call, const char* file, int line) const {
  if (status == CUDNN_STATUS_SUCCESS) return;
  // Status codes come in categories of a thousand: 2xxx bad parameter, 3xxx not supported;
  // 4001 is a persistent kernel that failed to compile for this shape.
  const int code = static_cast<int>(status);
  const int category = code / 1000;
  if (options_.algo != RnnAlgo::Standard && (category == 2 || category == 3 || code == 4001)) {
    char detail[512] = {0};
    cudnnGetLastErrorString(detail, sizeof detail);
    throw Error("cuDNN refuses --algo " + enum_name(options_.algo) + " for " +
                enum_name(shape_.cell) + " hidden " + std::to_string(shape_.hidden) + " layers " +
                std::to_string(shape_.layers) + (shape_.dirs == 2 ? " bidirectional" : "") +
                " --math " + enum_name(options_.math) +
                (padded ? "" : " with packed variable-length batches") + ": " +
                cudnnGetErrorString(status) + (detail[0] ? std::string(" (") + detail + ")" : "") +
                "; use --algo standard" + (padded ? "" : " or a padded batch layout"));
  }
  throw_cudnn_error(status, call, file, line);
}

void CudnnRnn::describe(cudnnRNNDataDescriptor_t x_desc, cudnnRNNDataDescriptor_t y_desc,
                        cudnnTensorDescriptor_t h_desc, const std::vector<int>& lengths, bool padded) {
  RNNB_ASSERT(!lengths.empty());
  const int batch = static_cast<int>(lengths.size());
  const int steps = lengths.front();
  for (size_t b = 0; b < lengths.size(); ++b)
    RNNB_ASSERT(lengths[b] >= 1 && (b == 0 || lengths[b] <= lengths[b - 1]));
  // A padded batch runs every sequence to the longest: the unpacked layout with all
  // lengths equal holds exactly the same rows as the packed one.
  std::vector<int> seq(lengths.begin(), lengths.end());
  if (padded) std::fill(seq.begin(), seq.end(), steps);
  const cudnnRNNDataLayout_t layout =
      padded ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED : CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_desc, data_type_, layout, steps, batch, shape_.input,
                                        seq.data(), nullptr));
  CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_desc, data_type_, layout, steps, batch, shape_.output(),
                                        seq.data(), nullptr));
  const int dims[3] = {shape_.layers * shape_.dirs, batch, shape_.hidden};
  const int strides[3] = {batch * shape_.hidden, shape_.hidden, 1};
  CUDNN_CHECK(cudnnSetTensorNdDescriptor(h_desc, data_type_, 3, dims, strides));
}

// From the descriptors the calls will use: for persist-dynamic, the plans built for this
// batch size (an unbuilt descriptor need not report the same sizes).
CudnnRnn::TempSizes CudnnRnn::query_temp_sizes(cudnnRNNDataDescriptor_t x_desc, bool padded, int batch) {
  TempSizes sizes;
  size_t infer_reserve = 0;
  RNN_CHECK(padded, cudnnGetRNNTempSpaceSizes(handle_, plan(padded, true, batch), CUDNN_FWD_MODE_TRAINING, x_desc,
                                      &sizes.train_workspace, &sizes.train_reserve));
  RNN_CHECK(padded, cudnnGetRNNTempSpaceSizes(handle_, plan(padded, false, batch), CUDNN_FWD_MODE_INFERENCE, x_desc,
                                      &sizes.infer_workspace, &infer_reserve));
  return sizes;
}

void CudnnRnn::set_batch(const std::vector<int>& lengths, bool padded, bool train) {
  padded_ = padded;
  train_batch_ = train;
  batch_ = static_cast<int>(lengths.size());
  describe(x_desc_.get(), y_desc_.get(), h_desc_.get(), lengths, padded);
  steps_ = lengths.front();
  rows_ = 0;
  seq_lengths_.resize(lengths.size());
  for (size_t b = 0; b < lengths.size(); ++b) {
    seq_lengths_[b] = padded ? steps_ : lengths[b];
    rows_ += seq_lengths_[b];
  }
  // Padded batches of one size recur every epoch, packed ones in repeated benchmarks.
  auto key = std::make_pair(padded, padded ? std::vector<int>{batch_, steps_} : lengths);
  auto cached = temp_sizes_.find(key);
  if (cached == temp_sizes_.end()) {
    if (temp_sizes_.size() >= 4096) temp_sizes_.clear();  // bound the cache for endless shapes
    // Builds persist-dynamic plans now (both modes), not inside a timed call.
    cached = temp_sizes_.emplace(std::move(key), query_temp_sizes(x_desc_.get(), padded, batch_)).first;
  }
  const TempSizes& sizes = cached->second;
  // An inference batch needs no reserve space, and maybe a smaller workspace.
  workspace_bytes_ = train ? sizes.train_workspace : sizes.infer_workspace;
  reserve_bytes_ = train ? sizes.train_reserve : 0;
  if (workspace_.size() < workspace_bytes_) workspace_.resize(workspace_bytes_);
  if (reserve_.size() < reserve_bytes_) reserve_.resize(reserve_bytes_);

  // The calls read the lengths again on the device, asynchronously.
  cudaStream_t stream = nullptr;
  CUDNN_CHECK(cudnnGetStream(handle_, &stream));
  // Grow-only (a reallocation would wait for the device); pageable memory is staged at
  // the call, so seq_lengths_ may change right after.
  if (dev_seq_lengths_.size() < seq_lengths_.size()) dev_seq_lengths_.resize(seq_lengths_.size());
  CUDA_CHECK(cudaMemcpyAsync(dev_seq_lengths_.data(), seq_lengths_.data(), seq_lengths_.size() * sizeof(int32_t),
                             cudaMemcpyHostToDevice, stream));
}

size_t CudnnRnn::temp_space_bytes(const std::vector<int>& lengths, bool padded, bool train) {
  RnnDataDescriptor x_desc = make_rnn_data_descriptor(), y_desc = make_rnn_data_descriptor();
  TensorDescriptor h_desc = make_tensor_descriptor();
  describe(x_desc.get(), y_desc.get(), h_desc.get(), lengths, padded);
  const TempSizes sizes = query_temp_sizes(x_desc.get(), padded, static_cast<int>(lengths.size()));
  return train ? sizes.train_workspace + sizes.train_reserve : sizes.infer_workspace;
}

void CudnnRnn::forward(const void* weights, const void* x, void* y, void* hy, void* cy, bool train) {
  RNNB_ASSERT(batch_ > 0 && (train_batch_ || !train));
  RNNB_ASSERT(shape_.cell == Cell::Lstm || cy == nullptr);
  RNN_CHECK(padded_, cudnnRNNForward(handle_, descriptor(train),
                            train ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                            dev_seq_lengths_.data(), x_desc_.get(), x, y_desc_.get(), y,
                            h_desc_.get(), /*hx=*/nullptr, hy, h_desc_.get(), /*cx=*/nullptr, cy,
                            weight_space_bytes_, weights, workspace_bytes_, workspace_.data(),
                            train ? reserve_bytes_ : 0, train ? reserve_.data() : nullptr));
}

void CudnnRnn::backward_data(const void* weights, const void* y, const void* dy, const void* dhy,
                             const void* dcy, void* dx) {
  RNNB_ASSERT(batch_ > 0 && train_batch_ && dy != nullptr);
  RNN_CHECK(padded_, cudnnRNNBackwardData_v8(handle_, descriptor(true), dev_seq_lengths_.data(), y_desc_.get(), y,
                                    dy, x_desc_.get(), dx, h_desc_.get(), /*hx=*/nullptr, dhy,
                                    /*dhx=*/nullptr, h_desc_.get(), /*cx=*/nullptr, dcy,
                                    /*dcx=*/nullptr, weight_space_bytes_, weights, workspace_bytes_,
                                    workspace_.data(), reserve_bytes_, reserve_.data()));
}

void CudnnRnn::backward_weights(const void* x, const void* y, void* dweights) {
  RNNB_ASSERT(batch_ > 0 && train_batch_);
  RNN_CHECK(padded_, cudnnRNNBackwardWeights_v8(handle_, descriptor(true), CUDNN_WGRAD_MODE_ADD,
                                       dev_seq_lengths_.data(), x_desc_.get(), x, h_desc_.get(),
                                       /*hx=*/nullptr, y_desc_.get(), y, weight_space_bytes_,
                                       dweights, workspace_bytes_, workspace_.data(), reserve_bytes_,
                                       reserve_.data()));
}

}  // namespace rnnb::cuda

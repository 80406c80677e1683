// The cuDNN backend's per-batch device buffers and the one table that sizes them from a
// batch's dimensions. The backend sizes its buffers through the table before each batch,
// and check_memory sums the same table for a worst-case batch, so the estimate cannot
// drift from what is allocated.
#pragma once

#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cuda/device_buffer.h"
#include "model/model_config.h"

namespace rnnb::cuda {

// What decides the sizes: the batch and how it runs.
struct BatchDims {
  int64_t batch = 0;  // B: reviews
  int64_t rows = 0;   // N: time-major rows (tokens computed)
  int64_t steps = 0;  // time steps (the longest review)
  bool train = false;
  bool half = false;  // fp16 RNN data
};

struct BatchBuffers {
  // One upload per batch: [step offsets (int64, steps+1) | reviews (int32, B) | lengths (int32, B)].
  DeviceBuffer<unsigned char> meta;
  DeviceBuffer<uint8_t> labels;
  DeviceBuffer<int32_t> tokens;
  DeviceBuffer<float> x, embed_mask, y, y_pool, hy, cy;
  DeviceBuffer<__half> x_half, y_half, hy_half, cy_half;
  DeviceBuffer<float> features, dropped, mask, act, logits, dlogits, prob;
  DeviceBuffer<int32_t> argmax;
  DeviceBuffer<float> dact, dfeatures, dhy, dy, dx;
  DeviceBuffer<__half> dhy_half, dy_half, dx_half;
  DeviceBuffer<unsigned char> dy_zero;  // the RNN's data type; all zeros (last-state pooling)

  static size_t meta_bytes(int64_t batch, int64_t steps) {
    return static_cast<size_t>(steps + 1) * sizeof(int64_t) + 2 * static_cast<size_t>(batch) * sizeof(int32_t);
  }
};

// Scratch the embedding gradient's sorted variant needs, in bytes a row (sorted ids,
// positions, sorted positions and the radix sort's temporary storage, about 16): sized inside
// kernels/embedding.cu, so only estimated here.
inline constexpr double kEmbeddingGradBytesPerRow = 20.0;

// Calls visit(buffer, count) for every buffer of `b` with the element count a batch of
// `dims` needs from it (0 when that batch does not use it). The one place sizes are decided.
template <typename Visit>
void for_each_batch_buffer(BatchBuffers& b, const ModelConfig& model, const BatchDims& dims, Visit&& visit) {
  const RnnShape shape = model.rnn_shape();
  const size_t B = static_cast<size_t>(dims.batch), N = static_cast<size_t>(dims.rows);
  const size_t E = static_cast<size_t>(model.embed), out = static_cast<size_t>(shape.output());
  const size_t F = static_cast<size_t>(model.features()), C = static_cast<size_t>(model.classes);
  const size_t hidden = static_cast<size_t>(model.head_hidden);
  const size_t states = static_cast<size_t>(shape.layers) * shape.dirs * B * shape.hidden;
  const bool half = dims.half, train = dims.train;
  const bool lstm = model.cell == Cell::Lstm, last = model.pool == Pool::Last;
  const bool embed_dropped = train && model.embed_dropout > 0.0f;
  const size_t element = half ? sizeof(__half) : sizeof(float);
  auto when = [](bool used, size_t count) { return used ? count : 0; };

  visit(b.meta, BatchBuffers::meta_bytes(dims.batch, dims.steps));
  visit(b.labels, B);
  visit(b.tokens, N);
  // Forward. fp32 x is the RNN's input, or (fp16) where the embedding dropout is applied.
  visit(b.x, when(!half || embed_dropped, N * E));
  visit(b.x_half, when(half, N * E));
  visit(b.embed_mask, when(embed_dropped, N * E));
  visit(b.y, when(!half, N * out));
  visit(b.y_half, when(half, N * out));
  visit(b.y_pool, when(half && !last, N * out));  // pooling reads fp32 outputs
  visit(b.hy, states);                             // fp32 always: the last-state features
  visit(b.hy_half, when(half, states));
  visit(b.cy, when(lstm && !half, states));
  visit(b.cy_half, when(lstm && half, states));
  visit(b.argmax, when(!last, B * out));
  visit(b.features, B * F);
  visit(b.dropped, B * F);
  visit(b.mask, B * F);
  visit(b.act, B * hidden);
  visit(b.logits, B * C);
  visit(b.dlogits, when(train, B * C));
  visit(b.prob, when(!train, B));
  // Backward.
  visit(b.dact, when(train, B * hidden));
  visit(b.dfeatures, when(train, B * F));
  visit(b.dhy, when(train && last, states));
  visit(b.dhy_half, when(train && last && half, states));
  visit(b.dy_zero, when(train && last, N * out * element));
  visit(b.dy, when(train && !last, N * out));
  visit(b.dy_half, when(train && !last && half, N * out));
  visit(b.dx, when(train && (!half || embed_dropped), N * E));
  visit(b.dx_half, when(train && half, N * E));
}

// Bytes the table asks for, for a batch of `dims` (plus the embedding-gradient scratch).
inline double batch_buffer_bytes(BatchBuffers& b, const ModelConfig& model, const BatchDims& dims) {
  double bytes = dims.train ? kEmbeddingGradBytesPerRow * static_cast<double>(dims.rows) : 0.0;
  for_each_batch_buffer(b, model, dims, [&](auto& buffer, size_t count) {
    bytes += static_cast<double>(count) * sizeof(typename std::decay_t<decltype(buffer)>::value_type);
  });
  return bytes;
}

// Sizes every buffer for a batch of `dims`: reallocates only beyond a buffer's capacity.
// A reallocated dy_zero is zeroed (capacity == size then, so all of it).
inline void size_batch_buffers(BatchBuffers& b, const ModelConfig& model, const BatchDims& dims,
                               cudaStream_t stream) {
  const size_t dy_zero_capacity = b.dy_zero.capacity();
  for_each_batch_buffer(b, model, dims, [](auto& buffer, size_t count) { buffer.resize(count); });
  if (b.dy_zero.capacity() != dy_zero_capacity) b.dy_zero.zero(stream);
}

}  // namespace rnnb::cuda

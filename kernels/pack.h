// Batch layout on the device: the time-major token ids the RNN reads, built from the
// dataset already resident on the GPU, and the gathers that turn the RNN's final hidden
// state (or its last valid output) into the head's features, with their gradients.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "data/batching.h"

namespace rnnb::cuda {

// Row where step t starts in the time-major layout, for t = 0..steps (the last entry is the
// total row count). Packed: the sum of the active sequences at earlier steps (lengths must
// be non-increasing); padded: t * batch.
std::vector<int64_t> step_row_offsets(const std::vector<int32_t>& lengths, int steps,
                                      Padding padding);
inline std::vector<int64_t> step_row_offsets(const Batch& batch) {
  return step_row_offsets(batch.lengths, batch.steps, batch.padding);
}

// Writes what assemble_tokens (data/batching.h) produces: for step t and sequence b, the
// id at row step_offsets[t] + b. tokens/offsets are the whole split (TokenSet layout);
// reviews/lengths/step_offsets describe the batch (step_offsets from step_row_offsets).
// Padded batches place kPadId before (Pre) or after (Post) each review's text; a review
// with no tokens reads as one kUnkId (its batch length is 1).
void pack_batch_tokens(const int32_t* tokens, const int64_t* offsets, const int32_t* reviews,
                       const int32_t* lengths, const int64_t* step_offsets, int batch,
                       int steps, Padding padding, int32_t* out, cudaStream_t stream);

// features[b x dirs*hidden] = the top layer's final hidden state, forward direction then
// reverse, from hy [layers*dirs x batch x hidden] (cuDNN's hy layout).
void gather_final_hidden(const float* hy, int layers, int dirs, int batch, int hidden,
                         float* features, cudaStream_t stream);
// The gradient of gather_final_hidden: zeroes all of dhy, then writes the top layer's blocks.
void scatter_final_hidden_grad(const float* dfeatures, int layers, int dirs, int batch,
                               int hidden, float* dhy, cudaStream_t stream);

// out[b x width] = y's row holding sequence b's last real step: step lengths[b]-1 when
// packed or post-padded, step steps-1 when pre-padded. y is [rows x width], time-major.
void gather_last_outputs(const float* y, int width, const int64_t* step_offsets,
                         const int32_t* lengths, int batch, int steps, Padding padding,
                         float* out, cudaStream_t stream);
// The gradient of gather_last_outputs: zeroes dy [rows x width], then writes those rows.
void scatter_last_outputs_grad(const float* dout, int width, const int64_t* step_offsets,
                               const int32_t* lengths, int batch, int steps, Padding padding,
                               int64_t rows, float* dy, cudaStream_t stream);

}  // namespace rnnb::cuda

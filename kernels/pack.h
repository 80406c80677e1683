// Batch layout on the device: the time-major token ids the RNN reads and the batch's labels,
// built from the dataset already resident on the GPU, and the gather that turns the RNN's
// final hidden state into the head's features, with its gradient.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "data/batching.h"

namespace rnnb::cuda {

// Writes what assemble_tokens (data/batching.h) produces: for step t and sequence b, the
// id at row step_offsets[t] + b. tokens/offsets are the whole split (TokenizedSplit layout);
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

// out[b] = split_labels[reviews[b]] for b < batch: the batch's labels from the split's,
// resident on the device since attach.
void gather_labels(const uint8_t* split_labels, const int32_t* reviews, int batch, uint8_t* out,
                   cudaStream_t stream);

}  // namespace rnnb::cuda

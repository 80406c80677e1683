// Softmax cross-entropy for the classifier head on the device. The loss sum and the correct
// count accumulate in device memory across batches, so training never waits for the GPU
// until the trainer reads them for logging.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rnnb::cuda {

// For logits [batch x classes] and labels (class indices), in one single-block launch with a
// fixed reduction order (the same sums every run):
//   *loss_sum += sum over rows of -log softmax[label]        (when loss_sum is non-null)
//   *correct  += rows whose first argmax equals the label    (when correct is non-null)
//   dlogits    = (softmax - onehot) / batch                   (when dlogits is non-null)
//   prob_positive[b] = softmax[b][1]                          (when non-null; classes >= 2)
// Row math is in double, as in the CPU reference softmax_xent (cpu/cpu_ops.h).
void softmax_xent_batch(const float* logits, const uint8_t* labels, int batch, int classes,
                        float* dlogits, float* prob_positive, double* loss_sum,
                        unsigned long long* correct, cudaStream_t stream);

}  // namespace rnnb::cuda

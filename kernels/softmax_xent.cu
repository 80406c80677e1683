// Softmax cross-entropy kernel (see softmax_xent.h).
#include "kernels/softmax_xent.h"

#include "cuda/cuda_check.h"
#include "util/error.h"

namespace rnnb::cuda {
namespace {

constexpr int kThreads = 256;  // a power of two, for the tree reduction

__global__ void softmax_xent_kernel(const float* __restrict__ logits,
                                    const uint8_t* __restrict__ labels, int batch, int classes,
                                    float* __restrict__ dlogits, float* __restrict__ prob_positive,
                                    double* loss_sum, unsigned long long* correct) {
  __shared__ double loss_part[kThreads];
  __shared__ unsigned long long correct_part[kThreads];
  double loss = 0.0;
  unsigned long long right = 0;
  for (int b = threadIdx.x; b < batch; b += blockDim.x) {
    const float* row = logits + static_cast<int64_t>(b) * classes;
    int best = 0;
    float top = row[0];
    for (int c = 1; c < classes; ++c)
      if (row[c] > top) top = row[c], best = c;
    double total = 0.0;
    for (int c = 0; c < classes; ++c) total += exp(static_cast<double>(row[c] - top));
    const int label = labels[b];
    loss += log(total) - static_cast<double>(row[label] - top);
    if (best == label) ++right;
    if (prob_positive) prob_positive[b] = static_cast<float>(exp(static_cast<double>(row[1] - top)) / total);
    if (dlogits) {
      for (int c = 0; c < classes; ++c) {
        const double p = exp(static_cast<double>(row[c] - top)) / total;
        dlogits[static_cast<int64_t>(b) * classes + c] =
            static_cast<float>((p - (c == label ? 1.0 : 0.0)) / batch);
      }
    }
  }
  loss_part[threadIdx.x] = loss;
  correct_part[threadIdx.x] = right;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      loss_part[threadIdx.x] += loss_part[threadIdx.x + half];
      correct_part[threadIdx.x] += correct_part[threadIdx.x + half];
    }
    __syncthreads();
  }
  // One block: no other thread touches the accumulators, and launches on a stream are
  // ordered, so plain read-modify-write is safe.
  if (threadIdx.x == 0) {
    if (loss_sum) *loss_sum += loss_part[0];
    if (correct) *correct += correct_part[0];
  }
}

}  // namespace

void softmax_xent_batch(const float* logits, const uint8_t* labels, int batch, int classes,
                        float* dlogits, float* prob_positive, double* loss_sum,
                        unsigned long long* correct, cudaStream_t stream) {
  RNNB_ASSERT(batch >= 0 && classes >= 1);
  RNNB_ASSERT(prob_positive == nullptr || classes >= 2);
  if (batch == 0) return;
  softmax_xent_kernel<<<1, kThreads, 0, stream>>>(logits, labels, batch, classes, dlogits,
                                                  prob_positive, loss_sum, correct);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

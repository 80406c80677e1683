// The classifier head's cuBLAS calls (see cublas_head.h).
//
// cuBLAS is column-major: a row-major [rows x cols] array is, to it, its transpose
// [cols x rows] with leading dimension cols. So the row-major out [B x M] = in [B x K] W^T
// (W row-major [M x K]) is, column-major, out^T [M x B] = op(W) in^T with W seen as [K x M]
// and transposed.
#include "cuda/cublas_head.h"

#include <vector>

#include "cuda/cuda_check.h"
#include "kernels/relu.h"
#include "util/error.h"

namespace rnnb::cuda {

CublasHead::CublasHead(cublasHandle_t handle, int features, int hidden, int classes)
    : handle_(handle), F_(features), N_(hidden), C_(classes) {
  RNNB_ASSERT(features >= 1 && hidden >= 0 && classes >= 1);
}

cudaStream_t CublasHead::stream() const {
  cudaStream_t s = nullptr;
  CUBLAS_CHECK(cublasGetStream(handle_, &s));
  return s;
}

const float* CublasHead::ones(int batch) {
  if (ones_.size() < static_cast<size_t>(batch))
    ones_.upload(std::vector<float>(static_cast<size_t>(batch), 1.0f), stream());
  return ones_.data();
}

void CublasHead::forward(const float* features, int batch, const HeadWeights& w, float* act, float* logits) {
  RNNB_ASSERT(batch >= 1);
  const float one = 1.0f, zero = 0.0f;
  const float* column = ones(batch);
  const int K = N_ > 0 ? N_ : F_;
  const float* head_in = features;
  if (N_ > 0) {
    RNNB_ASSERT(act != nullptr);
    // act^T [N x B] = hidden_w (seen as [F x N], transposed) * features^T [F x B], + b 1^T.
    CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, N_, batch, F_, &one, w.hidden_w, F_, features,
                             F_, &zero, act, N_));
    CUBLAS_CHECK(cublasSger(handle_, N_, batch, &one, w.hidden_b, 1, column, 1, act, N_));
    relu_forward(act, static_cast<int64_t>(batch) * N_, stream());
    head_in = act;
  }
  CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, C_, batch, K, &one, w.out_w, K, head_in, K, &zero,
                           logits, C_));
  CUBLAS_CHECK(cublasSger(handle_, C_, batch, &one, w.out_b, 1, column, 1, logits, C_));
}

void CublasHead::backward(const float* features, const float* act, const float* dlogits, int batch,
                          const HeadWeights& w, const HeadGradients& g, float* dfeatures, float* dact) {
  RNNB_ASSERT(batch >= 1);
  const float one = 1.0f, zero = 0.0f;
  const float* column = ones(batch);
  const int K = N_ > 0 ? N_ : F_;
  const float* head_in = N_ > 0 ? act : features;
  // Output layer: dW [C x K] = dlogits^T in (column-major: dW^T [K x C] = in^T dlogits);
  // db = column sums of dlogits (dlogits^T [C x B] times ones).
  CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_T, K, C_, batch, &one, head_in, K, dlogits, C_, &zero,
                           g.out_w, K));
  CUBLAS_CHECK(cublasSgemv(handle_, CUBLAS_OP_N, C_, batch, &one, dlogits, C_, column, 1, &zero, g.out_b, 1));
  if (N_ > 0) {
    RNNB_ASSERT(act != nullptr && dact != nullptr);
    // d(act) [B x N] = dlogits out_w (column-major: dact^T [N x B] = out_w^T dlogits^T, out_w
    // seen as [N x C]), then through the ReLU; dW1 [N x F] = dact^T features; db1 = column
    // sums of dact; dfeatures [B x F] = dact hidden_w.
    CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, N_, batch, C_, &one, w.out_w, N_, dlogits, C_,
                             &zero, dact, N_));
    relu_backward(act, dact, static_cast<int64_t>(batch) * N_, stream());
    CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_T, F_, N_, batch, &one, features, F_, dact, N_,
                             &zero, g.hidden_w, F_));
    CUBLAS_CHECK(cublasSgemv(handle_, CUBLAS_OP_N, N_, batch, &one, dact, N_, column, 1, &zero, g.hidden_b, 1));
    CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, F_, batch, N_, &one, w.hidden_w, F_, dact, N_,
                             &zero, dfeatures, F_));
  } else {
    // dfeatures [B x F] = dlogits out_w (column-major: out_w seen as [F x C]).
    CUBLAS_CHECK(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, F_, batch, C_, &one, w.out_w, F_, dlogits, C_,
                             &zero, dfeatures, F_));
  }
}

}  // namespace rnnb::cuda

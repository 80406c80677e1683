// The classifier head on cuBLAS: an optional hidden ReLU layer and the output layer, forward
// and backward, on row-major device arrays. The twin of head_forward / head_backward in
// cpu/cpu_ops.h (same shapes, same overwrite semantics). Runs on the handle's stream.
#pragma once

#include <cublas_v2.h>

#include "cuda/device_buffer.h"

namespace rnnb::cuda {

// Device pointers to the head's parameters: hidden_w [hidden x F], hidden_b [hidden] (used
// only when hidden > 0), out_w [C x K], out_b [C], K = hidden > 0 ? hidden : F.
struct HeadWeights {
  const float* hidden_w = nullptr;
  const float* hidden_b = nullptr;
  const float* out_w = nullptr;
  const float* out_b = nullptr;
};
// Where their gradients go (overwritten).
struct HeadGradients {
  float* hidden_w = nullptr;
  float* hidden_b = nullptr;
  float* out_w = nullptr;
  float* out_b = nullptr;
};

class CublasHead {
 public:
  // `handle` must outlive this object; its stream (and math mode) is the one every call uses.
  CublasHead(cublasHandle_t handle, int features, int hidden, int classes);

  // logits [batch x C] from features [batch x F]; with a hidden layer, act [batch x hidden]
  // gets relu(features hidden_w^T + hidden_b) (act may be null without one).
  void forward(const float* features, int batch, const HeadWeights& w, float* act, float* logits);

  // From dlogits [batch x C]: overwrites every gradient of `g` the head has, and dfeatures
  // [batch x F]. features/act are the forward's; dact is scratch [batch x hidden].
  void backward(const float* features, const float* act, const float* dlogits, int batch,
                const HeadWeights& w, const HeadGradients& g, float* dfeatures, float* dact);

 private:
  cudaStream_t stream() const;
  // A column of `batch` ones: the bias is a rank-1 update and its gradient a column sum.
  const float* ones(int batch);

  cublasHandle_t handle_;
  int F_, N_, C_;
  DeviceBuffer<float> ones_;
};

}  // namespace rnnb::cuda

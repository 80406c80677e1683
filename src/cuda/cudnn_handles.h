// Owners of cuDNN and cuBLAS handles and descriptors: unique_ptr with a deleter that calls
// the library's destroy function, and make_* functions that create them checked.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <memory>
#include <type_traits>

#include "cuda/cuda_check.h"

namespace rnnb::cuda {

// Calls `Destroy` on the pointer; destroy failures are ignored (destructors never throw).
template <auto Destroy>
struct LibraryDeleter {
  template <typename Pointer>
  void operator()(Pointer pointer) const noexcept {
    if (pointer) (void)Destroy(pointer);
  }
};

template <typename Handle, auto Destroy>
using LibraryPtr = std::unique_ptr<std::remove_pointer_t<Handle>, LibraryDeleter<Destroy>>;

using CudnnHandle = LibraryPtr<cudnnHandle_t, cudnnDestroy>;
using CublasHandle = LibraryPtr<cublasHandle_t, cublasDestroy>;
using RnnDescriptor = LibraryPtr<cudnnRNNDescriptor_t, cudnnDestroyRNNDescriptor>;
using RnnDataDescriptor = LibraryPtr<cudnnRNNDataDescriptor_t, cudnnDestroyRNNDataDescriptor>;
using TensorDescriptor = LibraryPtr<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using DropoutDescriptor = LibraryPtr<cudnnDropoutDescriptor_t, cudnnDestroyDropoutDescriptor>;

// Handles come bound to their stream: what runs on a handle before a later
// cudnnSetStream (CudnnRnn's constructor initializes the dropout state) would otherwise go
// to the legacy default stream, which a non-blocking stream is not ordered with.
inline CudnnHandle make_cudnn_handle(cudaStream_t stream) {
  cudnnHandle_t raw = nullptr;
  CUDNN_CHECK(cudnnCreate(&raw));
  CudnnHandle handle(raw);
  CUDNN_CHECK(cudnnSetStream(handle.get(), stream));
  return handle;
}

inline CublasHandle make_cublas_handle(cudaStream_t stream) {
  cublasHandle_t raw = nullptr;
  CUBLAS_CHECK(cublasCreate(&raw));
  CublasHandle handle(raw);
  CUBLAS_CHECK(cublasSetStream(handle.get(), stream));
  return handle;
}

inline RnnDescriptor make_rnn_descriptor() {
  cudnnRNNDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateRNNDescriptor(&desc));
  return RnnDescriptor(desc);
}

inline RnnDataDescriptor make_rnn_data_descriptor() {
  cudnnRNNDataDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&desc));
  return RnnDataDescriptor(desc);
}

inline TensorDescriptor make_tensor_descriptor() {
  cudnnTensorDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
  return TensorDescriptor(desc);
}

inline DropoutDescriptor make_dropout_descriptor() {
  cudnnDropoutDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateDropoutDescriptor(&desc));
  return DropoutDescriptor(desc);
}

}  // namespace rnnb::cuda

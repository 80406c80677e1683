// Move-only owners of device memory, streams and events. Destructors never throw; an
// allocation failure names the size asked for.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"

namespace rnnb::cuda {

// A typed device array whose capacity is kept apart from its size (tiny-cuda-nn's
// GPUMemory): enlarge() and resize() reallocate only beyond the capacity, so per-batch
// scratch settles at its largest size and steady-state training never calls cudaFree
// (which waits for the device). Every transfer names its stream: the backend's streams are
// non-blocking, and the legacy default stream would not be ordered with them.
template <typename T>
class DeviceBuffer {
 public:
  using value_type = T;
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        count_(std::exchange(other.count_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }

  // Makes room for at least `count` elements: reallocates only beyond the capacity (never
  // shrinks). The size is unchanged unless the storage was replaced, which drops the
  // contents and leaves the size 0.
  void enlarge(size_t count) {
    if (count <= capacity_) return;
    release();
    allocate(count);
  }

  // Size `count`: reallocates only beyond the capacity. Contents are not kept when it
  // reallocates; within the capacity they stay where they are.
  void resize(size_t count) {
    enlarge(count);
    count_ = count;
  }

  void upload(const T* host, size_t count, cudaStream_t stream) {
    resize(count);
    if (count) CUDA_CHECK(cudaMemcpyAsync(data_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void upload(const std::vector<T>& host, cudaStream_t stream) { upload(host.data(), host.size(), stream); }
  // The first size() elements, after everything queued on `stream` before it (a wait).
  std::vector<T> download(cudaStream_t stream) const {
    std::vector<T> host(count_);
    if (count_) {
      CUDA_CHECK(cudaMemcpyAsync(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost, stream));
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return host;
  }
  void zero(cudaStream_t stream) {
    if (count_) CUDA_CHECK(cudaMemsetAsync(data_, 0, count_ * sizeof(T), stream));
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  void allocate(size_t count) {
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, count * sizeof(T));
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky allocation error
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw Error("GPU out of memory: asked for " + std::to_string(count * sizeof(T) >> 20) +
                  " MiB with " + std::to_string(free_bytes >> 20) + " MiB free of " +
                  std::to_string(total_bytes >> 20) +
                  " MiB; lower --batch-size, --max-len or --hidden");
    }
    data_ = static_cast<T*>(p);
    capacity_ = count;
  }
  void release() noexcept {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    count_ = 0;
    capacity_ = 0;
  }
  T* data_ = nullptr;
  size_t count_ = 0;
  size_t capacity_ = 0;
};

class Stream {
 public:
  Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { if (stream_) cudaStreamDestroy(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { if (event_) cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) { CUDA_CHECK(cudaEventRecord(event_, stream)); }
  void synchronize() const { CUDA_CHECK(cudaEventSynchronize(event_)); }
  // Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_since(const Event& start) const {
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
    return ms;
  }

 private:
  cudaEvent_t event_ = nullptr;
};

// True when a CUDA device is usable; otherwise `why` holds CUDA's reason ("CUDA: ...").
bool gpu_available(std::string* why);

}  // namespace rnnb::cuda

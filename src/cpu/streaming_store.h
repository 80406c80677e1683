// Stores that bypass the caches, for activations written in the forward pass and read
// only in backward: a batch's store is far larger than the caches, so an ordinary store
// first reads each line from memory (a read for ownership) only to have it evicted unread.
// Streaming stores send whole lines to memory without that read, and leave the caches to
// the step's operands.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace rnnb {

// dst[0, bytes) = src[0, bytes), written past the caches where the CPU can (x86-64: the
// 16-byte-aligned middle with MOVNTDQ, the unaligned ends as plain stores). The stores are
// weakly ordered: call stream_fence before another thread may read dst.
void stream_copy(void* dst, const void* src, size_t bytes);
// Orders the calling thread's streaming stores before its later stores (SFENCE).
void stream_fence();

// An allocator whose blocks start on a 64-byte cache line, so that rows whose size is a
// multiple of 64 bytes are streamed as whole lines.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};

template <typename T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace rnnb

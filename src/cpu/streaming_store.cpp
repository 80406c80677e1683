// Streaming stores (cpu/streaming_store.h): SSE2's MOVNTDQ, which every x86-64 CPU has;
// elsewhere a plain copy.
#include "cpu/streaming_store.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#define RNNB_HAVE_STREAMING_STORES 1
#endif

namespace rnnb {

void stream_copy(void* dst, const void* src, size_t bytes) {
#ifdef RNNB_HAVE_STREAMING_STORES
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  const size_t head = std::min(bytes, (16 - reinterpret_cast<uintptr_t>(d) % 16) % 16);
  std::memcpy(d, s, head);
  size_t i = head;
  for (; i + 16 <= bytes; i += 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
  std::memcpy(d + i, s + i, bytes - i);
#else
  std::memcpy(dst, src, bytes);
#endif
}

void stream_fence() {
#ifdef RNNB_HAVE_STREAMING_STORES
  _mm_sfence();
#endif
}

}  // namespace rnnb

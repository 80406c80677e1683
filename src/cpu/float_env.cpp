// FTZ/DAZ through the SSE control register (cpu/float_env.h); a no-op off x86.
#include "cpu/float_env.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define RNNB_HAVE_MXCSR 1
#endif

namespace rnnb {

#ifdef RNNB_HAVE_MXCSR
namespace {
constexpr unsigned kFlushToZero = 0x8000;       // MXCSR.FTZ
constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR.DAZ
}  // namespace

FlushDenormals::FlushDenormals() : saved_(_mm_getcsr()) {
  _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
}
FlushDenormals::~FlushDenormals() { _mm_setcsr(saved_); }
#else
FlushDenormals::FlushDenormals() = default;
FlushDenormals::~FlushDenormals() = default;
#endif

}  // namespace rnnb

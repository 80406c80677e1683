// Flush-to-zero and denormals-are-zero for the CPU backend's float arithmetic. Gradients
// that decay towards zero (saturated gates, long sequences) become denormal floats, and
// x86 cores take a microcode assist on each: on some Intel cores a training epoch ran
// eight times slower with them. cuDNN's kernels flush them as well.
#pragma once

namespace rnnb {

// Sets FTZ and DAZ on the calling thread for its lifetime and restores the previous mode.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
};

}  // namespace rnnb

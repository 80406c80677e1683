// Non-finite step guard on the device: after the gradient's sum of squares, a step whose
// loss or gradient is NaN/Inf is marked skipped (adam_step then leaves every parameter and
// moment alone), its loss and correct count are taken back out of the running sums, and it
// is counted. The host reads the counters only when it reads the stats, so the guard adds
// no synchronization to a step.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace rnnb::cuda {

struct NonfiniteGuard {
  int skip_this_step;
  long long skipped;          // steps skipped since the counters were last cleared
  long long skipped_reviews;  // reviews in those steps
  long long first_skipped;    // index of the first among `steps`
  long long steps;            // train steps since the counters were last cleared
  double loss_before;         // the running sums before this step's forward
  unsigned long long correct_before;
};

// Before a train step's forward: remembers the running loss and correct sums.
void nonfinite_snapshot(NonfiniteGuard* guard, const double* loss_sum,
                        const unsigned long long* correct, cudaStream_t stream);

// After the gradient's sum of squares: decides whether this step is skipped.
void nonfinite_check(NonfiniteGuard* guard, const double* sum_of_squares, int batch_reviews,
                     double* loss_sum, unsigned long long* correct, cudaStream_t stream);

}  // namespace rnnb::cuda

// Non-finite step guard kernels (see nonfinite.h).
#include "kernels/nonfinite.h"

#include "cuda/cuda_check.h"

namespace rnnb::cuda {
namespace {

__global__ void snapshot_kernel(NonfiniteGuard* guard, const double* loss_sum, const unsigned long long* correct) {
  guard->loss_before = *loss_sum;
  guard->correct_before = *correct;
}

__global__ void check_kernel(NonfiniteGuard* guard, const double* sum_of_squares, int batch_reviews,
                             double* loss_sum, unsigned long long* correct) {
  const bool finite = isfinite(*sum_of_squares) && isfinite(*loss_sum);
  guard->skip_this_step = finite ? 0 : 1;
  if (!finite) {
    if (guard->skipped == 0) guard->first_skipped = guard->steps;
    ++guard->skipped;
    guard->skipped_reviews += batch_reviews;
    *loss_sum = guard->loss_before;
    *correct = guard->correct_before;
  }
  ++guard->steps;
}

}  // namespace

void nonfinite_snapshot(NonfiniteGuard* guard, const double* loss_sum, const unsigned long long* correct,
                        cudaStream_t stream) {
  snapshot_kernel<<<1, 1, 0, stream>>>(guard, loss_sum, correct);
  CUDA_CHECK_LAUNCH();
}

void nonfinite_check(NonfiniteGuard* guard, const double* sum_of_squares, int batch_reviews, double* loss_sum,
                     unsigned long long* correct, cudaStream_t stream) {
  check_kernel<<<1, 1, 0, stream>>>(guard, sum_of_squares, batch_reviews, loss_sum, correct);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rnnb::cuda

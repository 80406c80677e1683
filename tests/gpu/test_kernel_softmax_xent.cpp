// Softmax cross-entropy on the device (kernels/softmax_xent.h) against the CPU reference:
// loss sums, correct counts, dlogits of the mean loss and P(positive).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "kernels/softmax_xent.h"
#include "gpu_test_util.h"

namespace rnnb::test {
namespace {

using cuda::DeviceBuffer;

constexpr double kExactBound = 1e-6;

class SoftmaxXentKernel : public GpuTest {};

TEST_F(SoftmaxXentKernel, SoftmaxXentMatchesReference) {
  uint64_t seed = 800;
  for (int classes : {2, 3, 5})
    for (int batch : {1, 3, 64, 1000}) {
      SCOPED_TRACE(testing::Message() << "classes " << classes << " batch " << batch);
      auto logits = random_floats(static_cast<size_t>(batch) * classes, ++seed, -4.0f, 4.0f);
      // Some rows tie, so the first-argmax rule is exercised.
      for (int b = 2; b < batch; b += 7)
        for (int c = 0; c < classes; ++c) logits[static_cast<size_t>(b) * classes + c] = 0.25f;
      std::vector<uint8_t> labels(batch);
      Rng rng(++seed);
      for (auto& label : labels) label = static_cast<uint8_t>(rng.below(classes));

      std::vector<float> expected_dlogits(logits.size()), expected_prob(batch);
      int64_t expected_correct = 0;
      const double expected_loss = softmax_xent(logits.data(), labels.data(), batch, classes,
                                                expected_dlogits.data(), &expected_correct,
                                                expected_prob.data());

      auto d_logits = to_device(logits, stream());
      auto d_labels = to_device(labels, stream());
      auto d_dlogits = poisoned<float>(logits.size(), stream());
      auto d_prob = poisoned<float>(batch, stream());
      // The accumulators start from earlier batches' totals.
      const double start_loss = 12.5;
      const unsigned long long start_correct = 40;
      auto d_loss = to_device(std::vector<double>{start_loss}, stream());
      auto d_correct = to_device(std::vector<unsigned long long>{start_correct}, stream());
      cuda::softmax_xent_batch(d_logits.data(), d_labels.data(), batch, classes, d_dlogits.data(),
                               d_prob.data(), d_loss.data(), d_correct.data(), stream());
      EXPECT_LE(relative_error(to_host(d_dlogits, stream()), expected_dlogits), kExactBound);
      EXPECT_LE(relative_error(to_host(d_prob, stream()), expected_prob), kExactBound);
      EXPECT_NEAR(to_host(d_loss, stream())[0], start_loss + expected_loss, 1e-9 * (start_loss + expected_loss));
      EXPECT_EQ(to_host(d_correct, stream())[0], start_correct + static_cast<unsigned long long>(expected_correct));

      // Forward only (evaluation): no gradient, accumulators keep adding.
      cuda::softmax_xent_batch(d_logits.data(), d_labels.data(), batch, classes, nullptr, nullptr,
                               d_loss.data(), d_correct.data(), stream());
      EXPECT_NEAR(to_host(d_loss, stream())[0], start_loss + 2 * expected_loss,
                  1e-9 * (start_loss + 2 * expected_loss));
      EXPECT_EQ(to_host(d_correct, stream())[0],
                start_correct + 2 * static_cast<unsigned long long>(expected_correct));
    }
}

}  // namespace
}  // namespace rnnb::test

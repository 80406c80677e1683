// The cuBLAS head (cuda/cublas_head.h) against the CPU head (cpu/cpu_ops.h): logits,
// hidden activations, every gradient and dfeatures, with and without a hidden layer.
#include <gtest/gtest.h>

#include <vector>

#include "cuda/cublas_head.h"
#include "cuda/cudnn_handles.h"
#include "gpu_test_util.h"
#include "cpu/cpu_ops.h"

namespace rnnb::test {
namespace {

class CublasHeadTest : public GpuTest {};

TEST_F(CublasHeadTest, MatchesCpuHead) {
  uint64_t seed = 1;
  cuda::CublasHandle handle = cuda::make_cublas_handle(stream());
  for (int F : {1, 5, 48})
    for (int hidden : {0, 16})
      for (int C : {2, 3})
        for (int B : {1, 7, 64}) {
          SCOPED_TRACE(testing::Message() << "F " << F << " hidden " << hidden << " C " << C << " B " << B);
          const int K = hidden > 0 ? hidden : F;
          const auto features = random_floats(static_cast<size_t>(B) * F, ++seed);
          const auto hidden_w = random_floats(static_cast<size_t>(hidden) * F, ++seed, -0.5f, 0.5f);
          const auto hidden_b = random_floats(static_cast<size_t>(hidden), ++seed, -0.5f, 0.5f);
          const auto out_w = random_floats(static_cast<size_t>(C) * K, ++seed, -0.5f, 0.5f);
          const auto out_b = random_floats(static_cast<size_t>(C), ++seed, -0.5f, 0.5f);
          const auto dlogits = random_floats(static_cast<size_t>(B) * C, ++seed);

          std::vector<float> act(static_cast<size_t>(B) * hidden), logits(static_cast<size_t>(B) * C);
          head_forward(features.data(), B, F, hidden, C, hidden_w.data(), hidden_b.data(), out_w.data(), out_b.data(),
                       act.data(), logits.data());
          std::vector<float> dhidden_w(hidden_w.size()), dhidden_b(hidden_b.size()), dout_w(out_w.size()),
              dout_b(out_b.size()), dfeatures(features.size()), dact(act.size());
          head_backward(features.data(), act.data(), dlogits.data(), B, F, hidden, C, hidden_w.data(), out_w.data(),
                        dhidden_w.data(), dhidden_b.data(), dout_w.data(), dout_b.data(), dfeatures.data(),
                        dact.data());

          auto d_features = to_device(features, stream());
          auto d_hidden_w = to_device(hidden_w, stream());
          auto d_hidden_b = to_device(hidden_b, stream());
          auto d_out_w = to_device(out_w, stream());
          auto d_out_b = to_device(out_b, stream());
          auto d_dlogits = to_device(dlogits, stream());
          auto d_act = poisoned<float>(act.size(), stream());
          auto d_logits = poisoned<float>(logits.size(), stream());
          // Gradients start poisoned: the head must overwrite them.
          auto d_dhidden_w = poisoned<float>(hidden_w.size(), stream());
          auto d_dhidden_b = poisoned<float>(hidden_b.size(), stream());
          auto d_dout_w = poisoned<float>(out_w.size(), stream());
          auto d_dout_b = poisoned<float>(out_b.size(), stream());
          auto d_dfeatures = poisoned<float>(features.size(), stream());
          auto d_dact = poisoned<float>(act.size(), stream());

          cuda::CublasHead head(handle.get(), F, hidden, C);
          const cuda::HeadWeights w{d_hidden_w.data(), d_hidden_b.data(), d_out_w.data(), d_out_b.data()};
          head.forward(d_features.data(), B, w, d_act.data(), d_logits.data());
          head.backward(d_features.data(), d_act.data(), d_dlogits.data(), B, w,
                        cuda::HeadGradients{d_dhidden_w.data(), d_dhidden_b.data(), d_dout_w.data(), d_dout_b.data()},
                        d_dfeatures.data(), d_dact.data());

          constexpr double kBound = 1e-5;
          EXPECT_LE(relative_error(to_host(d_logits, stream()), logits), kBound);
          EXPECT_LE(relative_error(to_host(d_dout_w, stream()), dout_w), kBound);
          EXPECT_LE(relative_error(to_host(d_dout_b, stream()), dout_b), kBound);
          EXPECT_LE(relative_error(to_host(d_dfeatures, stream()), dfeatures), kBound);
          if (hidden > 0) {
            EXPECT_LE(relative_error(to_host(d_act, stream()), act), kBound);
            EXPECT_LE(relative_error(to_host(d_dhidden_w, stream()), dhidden_w), kBound);
            EXPECT_LE(relative_error(to_host(d_dhidden_b, stream()), dhidden_b), kBound);
          }
        }
}

}  // namespace
}  // namespace rnnb::test

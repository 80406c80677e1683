// The head's ReLU on the device (kernels/relu.h) against the CPU reference (cpu/cpu_ops.h):
// forward in place, and a backward that passes no gradient where the unit is not positive.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "gpu_test_util.h"
#include "kernels/relu.h"

namespace rnnb::test {
namespace {

class ReluKernel : public GpuTest {};

TEST_F(ReluKernel, ReluForwardAndBackward) {
  for (int64_t n : {1, 257, 10000}) {
    auto x = random_floats(static_cast<size_t>(n), 40 + n);
    x[0] = 0.0f;  // exactly zero: not positive, so no gradient
    auto grad = random_floats(static_cast<size_t>(n), 50 + n);
    std::vector<float> act = x, expected_grad = grad;
    relu_forward(act.data(), n);
    relu_backward(act.data(), expected_grad.data(), n);
    auto d_x = to_device(x, stream());
    cuda::relu_forward(d_x.data(), n, stream());
    EXPECT_TRUE(same_bits(to_host(d_x, stream()), act));
    auto d_grad = to_device(grad, stream());
    cuda::relu_backward(d_x.data(), d_grad.data(), n, stream());
    EXPECT_TRUE(same_bits(to_host(d_grad, stream()), expected_grad));
  }
}

}  // namespace
}  // namespace rnnb::test

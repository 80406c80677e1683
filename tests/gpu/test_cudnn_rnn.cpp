// The cuDNN recurrent stack against the CPU twin: forward outputs and final states, input
// and weight gradients for every cell, depth, direction and batch layout, in fp32, tf32 and
// fp16; and the canonical <-> weight-space map. Relative errors go to the test report.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "gpu_test_util.h"
#include "util/rng.h"

namespace rnnb::cuda {
namespace {

struct RnnCase {
  Cell cell;
  int layers;
  int dirs;
  bool padded;
  int input;
  int hidden;
  std::vector<int> lengths;  // non-increasing
  RnnMath math;
  RnnAlgo algo = RnnAlgo::Standard;
};

std::string case_name(const RnnCase& c) {
  std::string name = cell_name(c.cell) + "_L" + std::to_string(c.layers) +
                     (c.dirs == 2 ? "_bi" : "_uni") + (c.padded ? "_padded" : "_packed") + "_I" +
                     std::to_string(c.input) + "H" + std::to_string(c.hidden) + "_" +
                     rnn_math_name(c.math);
  if (c.algo != RnnAlgo::Standard) name += "_" + rnn_algo_name(c.algo);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

double tolerance(RnnMath math) {
  switch (math) {
    case RnnMath::Fp32: return 1e-4;
    case RnnMath::Tf32: return 5e-3;
    case RnnMath::Fp16: return 2e-2;
  }
  return 0.0;
}

std::vector<float> uniform(size_t n, float bound, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(-bound, bound);
  return v;
}

// Device storage in the layer's data type (float, or half for fp16), filled from floats.
class TypedBuffer {
 public:
  TypedBuffer(bool half, size_t count, cudaStream_t stream) : half_(half), stream_(stream) {
    if (half_) halves_.resize(count); else floats_.resize(count);
    zero();
  }
  void upload(const std::vector<float>& host) {
    if (!half_) return floats_.upload(host, stream_);
    std::vector<__half> h(host.size());
    for (size_t i = 0; i < host.size(); ++i) h[i] = __float2half(host[i]);
    halves_.upload(h, stream_);
  }
  std::vector<float> download() const {
    if (!half_) return floats_.download(stream_);
    std::vector<__half> h = halves_.download(stream_);
    std::vector<float> out(h.size());
    for (size_t i = 0; i < h.size(); ++i) out[i] = __half2float(h[i]);
    return out;
  }
  void zero() { half_ ? halves_.zero(stream_) : floats_.zero(stream_); }
  void* data() { return half_ ? static_cast<void*>(halves_.data()) : static_cast<void*>(floats_.data()); }

 private:
  bool half_;
  cudaStream_t stream_;
  DeviceBuffer<float> floats_;
  DeviceBuffer<__half> halves_;
};

// Inputs quantized to the device precision, so both sides start from the same numbers.
std::vector<float> as_device_precision(std::vector<float> v, bool half) {
  if (half)
    for (float& x : v) x = __half2float(__float2half(x));
  return v;
}

struct Results {
  std::vector<float> y, hy, cy, dx, dweights;
};

class CudnnRnnParity : public test::GpuTest, public ::testing::WithParamInterface<RnnCase> {};
class CudnnRnnWeights : public test::GpuTest {};
class CudnnRnnAlgo : public test::GpuTest {};

TEST_P(CudnnRnnParity, MatchesCpuTwin) {
  const RnnCase& c = GetParam();
  const RnnShape shape{c.cell, c.input, c.hidden, c.layers, c.dirs};
  const bool half = c.math == RnnMath::Fp16;
  const int B = static_cast<int>(c.lengths.size()), H = c.hidden, steps = c.lengths.front();
  const bool lstm = c.cell == Cell::Lstm;

  // The CPU twin runs a padded batch as every sequence active at every step.
  std::vector<int> batch_sizes(steps, 0);
  for (int len : c.lengths)
    for (int t = 0; t < (c.padded ? steps : len); ++t) ++batch_sizes[t];
  size_t N = 0;
  for (int s : batch_sizes) N += s;
  const size_t state_size = static_cast<size_t>(c.layers) * c.dirs * B * H;

  Rng rng(1234 + c.hidden * 31 + c.layers * 7 + c.dirs);
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));
  const auto weights = as_device_precision(uniform(shape.weight_count(), bound, rng), half);
  const auto x = as_device_precision(uniform(N * c.input, 1.0f, rng), half);
  const auto dy = as_device_precision(uniform(N * shape.output(), 1.0f, rng), half);
  const auto dhy = as_device_precision(uniform(state_size, 1.0f, rng), half);
  const auto dcy = as_device_precision(uniform(state_size, 1.0f, rng), half);

  Results cpu;
  {
    CpuRnn<float> rnn(shape);
    cpu.y.resize(N * shape.output());
    cpu.hy.resize(state_size);
    cpu.cy.resize(lstm ? state_size : 0);
    Rng dropout_rng(1);
    rnn.forward(weights.data(), x.data(), batch_sizes, cpu.y.data(), cpu.hy.data(),
                lstm ? cpu.cy.data() : nullptr, /*train=*/true, &dropout_rng);
    cpu.dx.resize(x.size());
    cpu.dweights.assign(weights.size(), 0.0f);
    rnn.backward(weights.data(), dy.data(), dhy.data(), lstm ? dcy.data() : nullptr, cpu.dx.data(),
                 cpu.dweights.data());
  }

  Results gpu;
  {
    Stream stream;
    CudnnHandle handle = make_cudnn_handle(stream.get());
    CudnnRnn rnn(handle.get(), shape, RnnOptions{c.algo, c.math, 0.0f, 7});
    std::vector<float> space(rnn.weight_space_elements(), 0.0f);
    rnn.to_space(weights.data(), space.data());

    const cudaStream_t s = stream.get();
    TypedBuffer w(half, space.size(), s), dw(half, space.size(), s), dx_dev(half, x.size(), s),
        x_dev(half, x.size(), s), y_dev(half, cpu.y.size(), s), dy_dev(half, dy.size(), s),
        hy_dev(half, state_size, s), cy_dev(half, state_size, s), dhy_dev(half, state_size, s),
        dcy_dev(half, state_size, s);
    w.upload(space);
    x_dev.upload(x);
    dy_dev.upload(dy);
    dhy_dev.upload(dhy);
    dcy_dev.upload(dcy);

    rnn.set_batch(c.lengths, c.padded);
    ASSERT_EQ(rnn.rows(), static_cast<int64_t>(N));
    rnn.forward(w.data(), x_dev.data(), y_dev.data(), hy_dev.data(), lstm ? cy_dev.data() : nullptr,
                /*train=*/true);
    rnn.backward_data(w.data(), y_dev.data(), dy_dev.data(), dhy_dev.data(),
                      lstm ? dcy_dev.data() : nullptr, dx_dev.data());
    dw.zero();
    rnn.backward_weights(x_dev.data(), y_dev.data(), dw.data());

    gpu.y = y_dev.download();
    gpu.hy = hy_dev.download();
    if (lstm) gpu.cy = cy_dev.download();
    gpu.dx = dx_dev.download();
    const std::vector<float> dspace = dw.download();
    gpu.dweights.assign(weights.size(), 0.0f);
    rnn.to_canonical(dspace.data(), gpu.dweights.data());
  }

  const double bound_err = tolerance(c.math);
  auto check = [&](const char* what, const std::vector<float>& g, const std::vector<float>& r) {
    ASSERT_EQ(g.size(), r.size()) << what;
    const double err = test::relative_error(g, r);
    RecordProperty(std::string("rel_err_") + what, std::to_string(err));
    EXPECT_LT(err, bound_err) << what << " of " << case_name(c);
  };
  check("y", gpu.y, cpu.y);
  check("hy", gpu.hy, cpu.hy);
  if (lstm) check("cy", gpu.cy, cpu.cy);
  check("dx", gpu.dx, cpu.dx);
  check("dweights", gpu.dweights, cpu.dweights);
}

std::vector<RnnCase> fp32_cases() {
  std::vector<RnnCase> cases;
  const struct { int input, hidden; std::vector<int> lengths; } shapes[] = {
      {5, 7, {6, 4, 4, 1}},
      {24, 32, {11, 9, 9, 5, 3, 2, 1}},
  };
  for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm})
    for (int layers : {1, 2})
      for (int dirs : {1, 2})
        for (bool padded : {false, true})
          for (const auto& s : shapes)
            cases.push_back({cell, layers, dirs, padded, s.input, s.hidden, s.lengths, RnnMath::Fp32});
  return cases;
}

std::vector<RnnCase> reduced_precision_cases() {
  std::vector<RnnCase> cases;
  for (RnnMath math : {RnnMath::Tf32, RnnMath::Fp16})
    for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm})
      for (bool padded : {false, true})
        cases.push_back({cell, 2, 2, padded, 32, 64, {12, 10, 7, 7, 4, 1, 1, 1}, math});
  return cases;
}

std::string param_name(const ::testing::TestParamInfo<RnnCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Fp32, CudnnRnnParity, ::testing::ValuesIn(fp32_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Reduced, CudnnRnnParity, ::testing::ValuesIn(reduced_precision_cases()),
                         param_name);

// The map between the canonical layout and the weight space is a bijection on the
// canonical weights: there and back through device memory returns every bit.
TEST_F(CudnnRnnWeights, CanonicalRoundTripIsExact) {
  CudnnHandle handle = make_cudnn_handle(nullptr);
  for (Cell cell : {Cell::RnnTanh, Cell::Gru, Cell::Lstm})
    for (int dirs : {1, 2}) {
      const RnnShape shape{cell, 12, 20, 3, dirs};
      CudnnRnn rnn(handle.get(), shape, RnnOptions{});
      ASSERT_GE(rnn.weight_space_elements(), shape.weight_count());
      Rng rng(99);
      const auto canonical = uniform(shape.weight_count(), 1.0f, rng);
      std::vector<float> space(rnn.weight_space_elements(), 0.0f);
      rnn.to_space(canonical.data(), space.data());
      DeviceBuffer<float> device;
      device.upload(space, nullptr);
      const std::vector<float> back_space = device.download(nullptr);
      std::vector<float> back(canonical.size(), -1.0f);
      rnn.to_canonical(back_space.data(), back.data());
      EXPECT_EQ(back, canonical) << cell_name(cell) << " dirs " << dirs;
    }
}

// Persistent algorithms either match the CPU twin or are refused with a clear message.
TEST_F(CudnnRnnAlgo, PersistentAlgorithmsRunOrRefuseClearly) {
  CudnnHandle handle = make_cudnn_handle(nullptr);
  for (RnnAlgo algo : {RnnAlgo::PersistStatic, RnnAlgo::PersistDynamic, RnnAlgo::PersistStaticSmallH})
    for (bool padded : {false, true}) {
      const RnnShape shape{Cell::Gru, 16, 32, 1, 1};
      try {
        CudnnRnn rnn(handle.get(), shape, RnnOptions{algo, RnnMath::Fp32, 0.0f, 1});
        DeviceBuffer<float> w(rnn.weight_space_elements()), x(8 * 4 * 16), y(8 * 4 * 32), hy(4 * 32);
        w.zero(nullptr);
        x.zero(nullptr);
        const std::vector<int> lengths = padded ? std::vector<int>{8, 8, 8, 8} : std::vector<int>{8, 6, 3, 1};
        rnn.set_batch(lengths, padded);
        rnn.forward(w.data(), x.data(), y.data(), hy.data(), nullptr, /*train=*/false);
        // Zero weights and inputs give a zero state for a GRU (n = 0, h' = z * 0).
        const std::vector<float> h = hy.download(nullptr);
        for (float v : h) EXPECT_EQ(v, 0.0f);
        RecordProperty(rnn_algo_name(algo) + (padded ? "_padded" : "_packed"), "ran");
      } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("--algo " + rnn_algo_name(algo)), std::string::npos) << message;
        RecordProperty(rnn_algo_name(algo) + (padded ? "_padded" : "_packed"), "refused");
      }
    }
}

TEST(CudnnRnnOptions, ParsesNamesAndRejectsUnknown) {
  EXPECT_EQ(parse_rnn_algo("persist-static"), RnnAlgo::PersistStatic);
  EXPECT_EQ(parse_rnn_math("fp16"), RnnMath::Fp16);
  for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStatic, RnnAlgo::PersistDynamic,
                    RnnAlgo::PersistStaticSmallH})
    EXPECT_EQ(parse_rnn_algo(rnn_algo_name(a)), a);
  EXPECT_THROW(parse_rnn_algo("fastest"), UsageError);
  EXPECT_THROW(parse_rnn_math("bf16"), UsageError);
}

}  // namespace
}  // namespace rnnb::cuda

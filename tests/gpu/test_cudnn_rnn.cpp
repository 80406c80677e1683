// The cuDNN recurrent stack against the CPU twin: forward outputs and final states, input
// and weight gradients for every cell, depth, direction and batch layout, in fp32, tf32 and
// fp16, at small sizes and at the default model's size on real IMDB lengths; persistent
// algorithms, inference without dropout, the canonical <-> weight-space map and the cuDNN
// version check. Relative errors go to the test report.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/rnn_cpu.h"
#include "cuda/cudnn_handles.h"
#include "cuda/cudnn_rnn.h"
#include "cuda/device_buffer.h"
#include "gpu_test_util.h"
#include "imdb_lengths.h"
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
  std::string name = enum_name(c.cell) + "_L" + std::to_string(c.layers) +
                     (c.dirs == 2 ? "_bi" : "_uni") + (c.padded ? "_padded" : "_packed") + "_I" +
                     std::to_string(c.input) + "H" + std::to_string(c.hidden) + "_" +
                     enum_name(c.math);
  if (c.algo != RnnAlgo::Standard) name += "_" + enum_name(c.algo);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

double tolerance(RnnMath math) {
  switch (math) {
    case RnnMath::Fp32: return 1e-4;
    case RnnMath::Tf32: return 5e-3;
    case RnnMath::Fp16: return 2e-2;
    case RnnMath::Bf16: break;  // the CPU's mode, never a cuDNN case
  }
  return 0.0;
}

std::vector<float> uniform(size_t n, float bound, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(-bound, bound);
  return v;
}

// Device storage in the layer's data type (float, or half for fp16), filled from floats.
// Every transfer runs on `stream`, the one the cuDNN handle runs on, so no copy can pass a
// cuDNN call that is still writing (a non-blocking stream does not wait for the default one).
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
    CUDA_CHECK(cudaStreamSynchronize(stream_));  // h is a temporary
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

// A cuDNN handle running on its own stream, set before any CudnnRnn is made on it.
struct StreamHandle {
  Stream stream;
  CudnnHandle handle = make_cudnn_handle(stream.get());
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

// One case's random inputs, quantized to the device precision, and the CPU twin's results.
struct Inputs {
  std::vector<int> batch_sizes;  // the CPU twin's per-step active rows
  size_t rows = 0, state_size = 0;
  std::vector<float> weights, x, dy, dhy, dcy;
};

Inputs make_inputs(const RnnCase& c) {
  const RnnShape shape{c.cell, c.input, c.hidden, c.layers, c.dirs};
  const bool half = c.math == RnnMath::Fp16;
  const int B = static_cast<int>(c.lengths.size()), steps = c.lengths.front();
  Inputs in;
  // The CPU twin runs a padded batch as every sequence active at every step.
  in.batch_sizes.assign(steps, 0);
  for (int len : c.lengths)
    for (int t = 0; t < (c.padded ? steps : len); ++t) ++in.batch_sizes[t];
  for (int s : in.batch_sizes) in.rows += s;
  in.state_size = static_cast<size_t>(c.layers) * c.dirs * B * c.hidden;
  Rng rng(1234 + c.hidden * 31 + c.layers * 7 + c.dirs);
  const float bound = 1.0f / std::sqrt(static_cast<float>(c.hidden));
  in.weights = as_device_precision(uniform(shape.weight_count(), bound, rng), half);
  in.x = as_device_precision(uniform(in.rows * c.input, 1.0f, rng), half);
  in.dy = as_device_precision(uniform(in.rows * shape.output(), 1.0f, rng), half);
  in.dhy = as_device_precision(uniform(in.state_size, 1.0f, rng), half);
  in.dcy = as_device_precision(uniform(in.state_size, 1.0f, rng), half);
  return in;
}

Results run_cpu(const RnnCase& c, const Inputs& in) {
  const RnnShape shape{c.cell, c.input, c.hidden, c.layers, c.dirs};
  const bool lstm = c.cell == Cell::Lstm;
  Results cpu;
  CpuRnn<float> rnn(shape);
  cpu.y.resize(in.rows * shape.output());
  cpu.hy.resize(in.state_size);
  cpu.cy.resize(lstm ? in.state_size : 0);
  Rng dropout_rng(1);
  rnn.forward(in.weights.data(), in.x.data(), in.batch_sizes, cpu.y.data(), cpu.hy.data(),
              lstm ? cpu.cy.data() : nullptr, /*train=*/true, &dropout_rng);
  cpu.dx.resize(in.x.size());
  cpu.dweights.assign(in.weights.size(), 0.0f);
  rnn.backward(in.weights.data(), in.dy.data(), in.dhy.data(), lstm ? in.dcy.data() : nullptr, cpu.dx.data(),
               cpu.dweights.data());
  return cpu;
}

// Throws Error when cuDNN refuses the case's algorithm.
Results run_gpu(const RnnCase& c, const Inputs& in) {
  const RnnShape shape{c.cell, c.input, c.hidden, c.layers, c.dirs};
  const bool half = c.math == RnnMath::Fp16;
  const bool lstm = c.cell == Cell::Lstm;
  StreamHandle sh;
  const cudaStream_t stream = sh.stream.get();
  CudnnRnn rnn(sh.handle.get(), shape, RnnOptions{c.algo, c.math, 0.0f, 7});
  std::vector<float> space(rnn.weight_space_elements(), 0.0f);
  rnn.to_space(in.weights.data(), space.data());
  const size_t y_size = in.rows * shape.output();

  TypedBuffer w(half, space.size(), stream), dw(half, space.size(), stream), dx_dev(half, in.x.size(), stream),
      x_dev(half, in.x.size(), stream), y_dev(half, y_size, stream), dy_dev(half, in.dy.size(), stream),
      hy_dev(half, in.state_size, stream), cy_dev(half, in.state_size, stream),
      dhy_dev(half, in.state_size, stream), dcy_dev(half, in.state_size, stream);
  w.upload(space);
  x_dev.upload(in.x);
  dy_dev.upload(in.dy);
  dhy_dev.upload(in.dhy);
  dcy_dev.upload(in.dcy);

  rnn.set_batch(c.lengths, c.padded, /*train=*/true);
  RNNB_ASSERT(rnn.rows() == static_cast<int64_t>(in.rows));
  rnn.forward(w.data(), x_dev.data(), y_dev.data(), hy_dev.data(), lstm ? cy_dev.data() : nullptr,
              /*train=*/true);
  rnn.backward_data(w.data(), y_dev.data(), dy_dev.data(), dhy_dev.data(), lstm ? dcy_dev.data() : nullptr,
                    dx_dev.data());
  dw.zero();
  rnn.backward_weights(x_dev.data(), y_dev.data(), dw.data());

  Results gpu;
  gpu.y = y_dev.download();
  gpu.hy = hy_dev.download();
  if (lstm) gpu.cy = cy_dev.download();
  gpu.dx = dx_dev.download();
  const std::vector<float> dspace = dw.download();
  gpu.dweights.assign(in.weights.size(), 0.0f);
  rnn.to_canonical(dspace.data(), gpu.dweights.data());
  return gpu;
}

// Every output and gradient within the case's bound; each error goes to the test report.
void expect_close(const RnnCase& c, const Results& gpu, const Results& cpu, double bound) {
  auto check = [&](const char* what, const std::vector<float>& g, const std::vector<float>& r) {
    ASSERT_EQ(g.size(), r.size()) << what;
    const double err = test::relative_error(g, r);
    ::testing::Test::RecordProperty(std::string("rel_err_") + what, std::to_string(err));
    EXPECT_LT(err, bound) << what << " of " << case_name(c);
  };
  check("y", gpu.y, cpu.y);
  check("hy", gpu.hy, cpu.hy);
  if (c.cell == Cell::Lstm) check("cy", gpu.cy, cpu.cy);
  check("dx", gpu.dx, cpu.dx);
  check("dweights", gpu.dweights, cpu.dweights);
}

class CudnnRnnParity : public test::GpuTest, public ::testing::WithParamInterface<RnnCase> {};
class CudnnRnnWeights : public test::GpuTest {};
class CudnnRnnAlgo : public test::GpuTest {};

TEST_P(CudnnRnnParity, MatchesCpuTwin) {
  const RnnCase& c = GetParam();
  const Inputs in = make_inputs(c);
  expect_close(c, run_gpu(c, in), run_cpu(c, in), tolerance(c.math));
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

// The default model's size on real review lengths: 63 lengths drawn from the IMDB training
// histogram plus the longest review (2,737 tokens), so a padded batch runs 2,737 steps.
std::vector<RnnCase> real_size_cases() {
  std::vector<int> lengths = {2737};
  Rng rng(2024);
  int64_t total = 0;
  for (const bench::LengthCount& lc : bench::kImdbLengths) total += lc.count;
  while (lengths.size() < 64) {
    int64_t pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total)));
    for (const bench::LengthCount& lc : bench::kImdbLengths)
      if ((pick -= lc.count) < 0) {
        lengths.push_back(lc.length);
        break;
      }
  }
  std::sort(lengths.rbegin(), lengths.rend());
  std::vector<RnnCase> cases;
  for (Cell cell : {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm})
    for (bool padded : {false, true}) cases.push_back({cell, 1, 1, padded, 128, 256, lengths, RnnMath::Fp32});
  return cases;
}

std::string param_name(const ::testing::TestParamInfo<RnnCase>& info) { return case_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Fp32, CudnnRnnParity, ::testing::ValuesIn(fp32_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Reduced, CudnnRnnParity, ::testing::ValuesIn(reduced_precision_cases()),
                         param_name);
INSTANTIATE_TEST_SUITE_P(RealSize, CudnnRnnParity, ::testing::ValuesIn(real_size_cases()), param_name);

// The map between the canonical layout and the weight space is a bijection on the
// canonical weights: there and back through device memory returns every bit.
TEST_F(CudnnRnnWeights, CanonicalRoundTripIsExact) {
  StreamHandle sh;
  for (Cell cell : {Cell::RnnTanh, Cell::Gru, Cell::Lstm})
    for (int dirs : {1, 2}) {
      const RnnShape shape{cell, 12, 20, 3, dirs};
      CudnnRnn rnn(sh.handle.get(), shape, RnnOptions{});
      ASSERT_GE(rnn.weight_space_elements(), shape.weight_count());
      Rng rng(99);
      const auto canonical = uniform(shape.weight_count(), 1.0f, rng);
      std::vector<float> space(rnn.weight_space_elements(), 0.0f);
      rnn.to_space(canonical.data(), space.data());
      DeviceBuffer<float> device;
      device.upload(space, sh.stream.get());
      const std::vector<float> back_space = device.download(sh.stream.get());
      std::vector<float> back(canonical.size(), -1.0f);
      rnn.to_canonical(back_space.data(), back.data());
      EXPECT_EQ(back, canonical) << enum_name(cell) << " dirs " << dirs;
    }
}

// Persistent algorithms, with random weights and inputs, either match the CPU twin or are
// refused with a message naming the algorithm. ctest runs this test in its own process, so
// a sticky CUDA error from a refused kernel cannot reach the other tests.
TEST_F(CudnnRnnAlgo, PersistentAlgorithmsMatchTheCpuTwinOrRefuseClearly) {
  for (RnnAlgo algo : {RnnAlgo::PersistStatic, RnnAlgo::PersistDynamic, RnnAlgo::PersistStaticSmallH})
    for (Cell cell : {Cell::Gru, Cell::Lstm})
      for (bool padded : {false, true}) {
        const RnnCase c{cell, 1, 1, padded, 16, 32, {8, 6, 3, 1}, RnnMath::Fp32, algo};
        const std::string what = case_name(c);
        const Inputs in = make_inputs(c);
        try {
          const Results gpu = run_gpu(c, in);
          expect_close(c, gpu, run_cpu(c, in), tolerance(c.math));
          RecordProperty(what, "ran");
        } catch (const Error& e) {
          const std::string message = e.what();
          EXPECT_NE(message.find("cuDNN refuses --algo " + enum_name(algo)), std::string::npos)
              << what << ": " << message;
          RecordProperty(what, "refused");
        }
      }
}

// persist-dynamic builds one plan per batch size and layout, and reuses it.
TEST_F(CudnnRnnAlgo, DynamicPlansAreBuiltOncePerBatchSize) {
  StreamHandle sh;
  try {
    CudnnRnn rnn(sh.handle.get(), RnnShape{Cell::Gru, 16, 32, 1, 1},
                 RnnOptions{RnnAlgo::PersistDynamic, RnnMath::Fp32, 0.0f, 1});
    for (int round = 0; round < 3; ++round) {
      rnn.set_batch({5, 5, 5, 5}, /*padded=*/true, /*train=*/true);
      rnn.set_batch({5, 5}, /*padded=*/true, /*train=*/false);
    }
    // Without dropout, training and inference share a plan: one per batch size.
    EXPECT_EQ(rnn.dynamic_plans(), 2u);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuDNN refuses --algo persist-dynamic"), std::string::npos) << e.what();
    GTEST_SKIP() << "persist-dynamic refused on this GPU: " << e.what();
  }
}

// With dropout between layers, inference runs a p = 0 descriptor: evaluation is exact and
// repeatable, and equals the CPU twin's forward without dropout.
TEST_F(CudnnRnnAlgo, InferenceIgnoresDropoutBetweenLayers) {
  const RnnCase c{Cell::Lstm, 2, 1, false, 8, 16, {6, 4, 2}, RnnMath::Fp32};
  const RnnShape shape{c.cell, c.input, c.hidden, c.layers, c.dirs};
  const Inputs in = make_inputs(c);
  StreamHandle sh;
  const cudaStream_t stream = sh.stream.get();
  CudnnRnn rnn(sh.handle.get(), shape, RnnOptions{RnnAlgo::Standard, RnnMath::Fp32, 0.5f, 3});
  std::vector<float> space(rnn.weight_space_elements(), 0.0f);
  rnn.to_space(in.weights.data(), space.data());
  TypedBuffer w(false, space.size(), stream), x(false, in.x.size(), stream),
      y(false, in.rows * shape.output(), stream);
  w.upload(space);
  x.upload(in.x);
  rnn.set_batch(c.lengths, false, /*train=*/false);
  rnn.forward(w.data(), x.data(), y.data(), nullptr, nullptr, /*train=*/false);
  const std::vector<float> first = y.download();
  rnn.forward(w.data(), x.data(), y.data(), nullptr, nullptr, /*train=*/false);
  EXPECT_TRUE(test::same_bits(first, y.download()));

  CpuRnn<float> cpu(shape);
  std::vector<float> cpu_y(in.rows * shape.output()), cpu_hy(in.state_size), cpu_cy(in.state_size);
  cpu.forward(in.weights.data(), in.x.data(), in.batch_sizes, cpu_y.data(), cpu_hy.data(), cpu_cy.data(),
              /*train=*/false, nullptr);
  EXPECT_LT(test::relative_error(first, cpu_y), tolerance(RnnMath::Fp32));
}

// The loaded cuDNN is checked against the 9.x API this code uses (no GPU needed).
TEST(CudnnRnnOptions, OnlyCudnnNineIsAccepted) {
  EXPECT_EQ(cudnn_version_problem(90000), "");
  EXPECT_EQ(cudnn_version_problem(91900), "");
  EXPECT_NE(cudnn_version_problem(8907).find("the loaded cuDNN is 8.9.7"), std::string::npos);
  EXPECT_NE(cudnn_version_problem(100100).find("needs cuDNN 9"), std::string::npos);
  EXPECT_EQ(cudnn_version_problem(cudnnGetVersion()), "") << "the cuDNN this test links";
}

TEST(CudnnRnnOptions, ParsesNamesAndRejectsUnknown) {
  EXPECT_EQ(parse_enum<RnnAlgo>("persist-static"), RnnAlgo::PersistStatic);
  EXPECT_EQ(parse_enum<RnnMath>("fp16"), RnnMath::Fp16);
  for (RnnAlgo a : {RnnAlgo::Standard, RnnAlgo::PersistStatic, RnnAlgo::PersistDynamic,
                    RnnAlgo::PersistStaticSmallH})
    EXPECT_EQ(parse_enum<RnnAlgo>(enum_name(a)), a);
  EXPECT_THROW(parse_enum<RnnAlgo>("fastest"), UsageError);
  EXPECT_THROW(parse_enum<RnnMath>("int8"), UsageError);
}

}  // namespace
}  // namespace rnnb::cuda

// Shared pieces of the benchmark executables: the run modes (quick for CI, default, full),
// the context written into the JSON, the review-length distributions and the FLOP formula.
// Header-only because every bench/*.cpp is an executable of its own.
#pragma once

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cpu/matmul.h"
#include "cpu/matmul_bf16.h"
#include "imdb_lengths.h"
#include "model/rnn_shape.h"
#include "util/blas.h"
#include "util/rng.h"

namespace rnnb::bench {

// ---- Modes -------------------------------------------------------------------------------

struct Mode {
  bool quick = false;  // tiny shapes, minimal time: CI runs every bench this way
  bool full = false;   // the big sweep instead of the default one
  std::string data;    // IMDB source for real lengths / the training data ("" = default lookup)
  std::string name() const { return quick ? "quick" : full ? "full" : "default"; }
};

inline bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

// Reads RNNB_BENCH_QUICK, RNNB_BENCH_FULL and RNNB_DATA, then takes --quick, --full and
// --data=PATH out of argv so Google Benchmark never sees them.
inline Mode parse_mode(int& argc, char** argv) {
  Mode mode;
  mode.quick = env_flag("RNNB_BENCH_QUICK");
  mode.full = env_flag("RNNB_BENCH_FULL");
  if (const char* data = std::getenv("RNNB_DATA")) mode.data = data;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      mode.quick = true;
    } else if (arg == "--full") {
      mode.full = true;
    } else if (arg.rfind("--data=", 0) == 0) {
      mode.data = arg.substr(7);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  if (mode.quick) mode.full = false;
  return mode;
}

// ---- Context -----------------------------------------------------------------------------

inline std::string first_line_with(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (key.empty() || line.rfind(key, 0) == 0) return line;
  return "";
}

// The value of the first /proc/cpuinfo line that starts with key ("model\t" is the model
// number, "model name" the name).
inline std::string cpuinfo_value(const std::string& key) {
  const std::string line = first_line_with("/proc/cpuinfo", key);
  const size_t colon = line.find(':');
  return colon == std::string::npos ? "unknown" : line.substr(line.find_first_not_of(" \t", colon + 1));
}

inline std::string cpu_model() { return cpuinfo_value("model name"); }

// The model name alone ("AMD EPYC") does not tell one CPU generation from the next.
inline std::string cpu_family_model() {
  return "family " + cpuinfo_value("cpu family") + " model " + cpuinfo_value("model\t");
}

inline std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

// What every result file records besides Google Benchmark's own context (date, host, CPU
// count and caches, load average): the build, the commit (env RNNB_COMMIT, set by
// scripts/bench.sh), the CPU model, BLAS and the mode.
// Google Benchmark's main once the benchmarks are registered: 2 on flags it does not know.
inline int run_benchmarks(int& argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

inline void add_common_context(const Mode& mode) {
  const char* commit = std::getenv("RNNB_COMMIT");
  benchmark::AddCustomContext("rnnb_version", RNNB_VERSION);
  benchmark::AddCustomContext("commit", commit && *commit ? commit : "unknown");
  benchmark::AddCustomContext("compiler", compiler_name());
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("cpu_family_model", cpu_family_model());
  benchmark::AddCustomContext("hardware_threads", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("load_average_at_start", first_line_with("/proc/loadavg", ""));
  benchmark::AddCustomContext("blas", std::string("OpenBLAS ") + openblas_get_config());
  benchmark::AddCustomContext("blas_threads", std::to_string(blas_threads()));
  benchmark::AddCustomContext("cpu_float_products", float_matmul_library());
  benchmark::AddCustomContext("cpu_bf16_products", bf16_matmul_library());
  benchmark::AddCustomContext("bench_mode", mode.name());
}

// ---- Review lengths ----------------------------------------------------------------------

enum class Lengths { Fixed, Uniform, Imdb, ImdbBucket };

inline std::string lengths_name(Lengths lengths) {
  switch (lengths) {
    case Lengths::Fixed: return "fixed";
    case Lengths::Uniform: return "uniform";
    case Lengths::Imdb: return "imdb";
    case Lengths::ImdbBucket: return "imdb-bucket";
  }
  return "?";
}

// A length distribution as (length, count) pairs, sampled by inverse CDF.
class LengthHistogram {
 public:
  // The stored histogram of the 25,000 IMDB training reviews (bench/imdb_lengths.inc).
  static LengthHistogram stored() {
    LengthHistogram h;
    for (const LengthCount& entry : kImdbLengths) h.add(entry.length, entry.count);
    h.source_ = "stored histogram (bench/imdb_lengths.inc)";
    return h;
  }
  static LengthHistogram from_lengths(const std::vector<int>& lengths, std::string source) {
    std::vector<int> sorted = lengths;
    std::sort(sorted.begin(), sorted.end());
    LengthHistogram h;
    for (size_t i = 0; i < sorted.size();) {
      size_t j = i;
      while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
      h.add(sorted[i], static_cast<int64_t>(j - i));
      i = j;
    }
    h.source_ = std::move(source);
    return h;
  }

  int sample(Rng& rng) const {
    const int64_t pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(total_)));
    const size_t i = std::upper_bound(cumulative_.begin(), cumulative_.end(), pick) - cumulative_.begin();
    return values_[i];
  }
  double mean() const { return static_cast<double>(sum_) / static_cast<double>(total_); }
  int max() const { return values_.back(); }
  int64_t count() const { return total_; }
  const std::string& source() const { return source_; }

 private:
  void add(int length, int64_t count) {
    total_ += count;
    sum_ += count * length;
    values_.push_back(length);
    cumulative_.push_back(total_);
  }
  std::vector<int> values_;
  std::vector<int64_t> cumulative_;  // counts up to and including each value
  int64_t total_ = 0, sum_ = 0;
  std::string source_;
};

// `count` batches of `batch` lengths each, sorted longest first, drawn reproducibly from a
// seed that depends only on the distribution and the batch size, so packed and padded runs
// and every cell see exactly the same reviews. Lengths are divided by `scale` (quick mode).
//   fixed:       every review has the IMDB mean length
//   uniform:     uniform in [1, 2*mean - 1] (same mean, a wide spread)
//   imdb:        a random batch of real review lengths (padded ~3.8x real at batch 64)
//   imdb-bucket: as --batching bucket makes them: 50 batches' worth of lengths sorted and
//                cut, one of those batches taken (padded ~1.01x real)
inline std::vector<std::vector<int>> sample_batches(const LengthHistogram& histogram, Lengths kind,
                                                    int batch, int count, int scale) {
  Rng rng(0x5eed0000ULL + 977ULL * static_cast<uint64_t>(kind) + static_cast<uint64_t>(batch));
  const int mean = static_cast<int>(histogram.mean() + 0.5);
  auto scaled = [scale](int length) { return std::max(1, (length + scale - 1) / scale); };
  std::vector<std::vector<int>> batches(count);
  for (std::vector<int>& lengths : batches) {
    switch (kind) {
      case Lengths::Fixed:
        lengths.assign(batch, mean);
        break;
      case Lengths::Uniform:
        for (int b = 0; b < batch; ++b) lengths.push_back(1 + static_cast<int>(rng.below(2 * mean - 1)));
        break;
      case Lengths::Imdb:
        for (int b = 0; b < batch; ++b) lengths.push_back(histogram.sample(rng));
        break;
      case Lengths::ImdbBucket: {
        constexpr int kWindow = 50;
        std::vector<int> pool(static_cast<size_t>(kWindow) * batch);
        for (int& length : pool) length = histogram.sample(rng);
        std::sort(pool.begin(), pool.end());
        const size_t start = static_cast<size_t>(rng.below(kWindow)) * batch;
        lengths.assign(pool.begin() + start, pool.begin() + start + batch);
        break;
      }
    }
    for (int& length : lengths) length = scaled(length);
    std::sort(lengths.begin(), lengths.end(), std::greater<int>());
  }
  return batches;
}

// Active sequences at each step (cuDNN's packed layout); padded: the whole batch each step.
inline std::vector<int> step_batch_sizes(const std::vector<int>& lengths, bool padded) {
  std::vector<int> sizes(lengths.front());
  for (int t = 0; t < lengths.front(); ++t) {
    int active = 0;
    for (int length : lengths) active += (padded || length > t) ? 1 : 0;
    sizes[t] = active;
  }
  return sizes;
}

inline int64_t real_tokens(const std::vector<int>& lengths) {
  int64_t sum = 0;
  for (int length : lengths) sum += length;
  return sum;
}
inline int64_t computed_tokens(const std::vector<int>& lengths, bool padded) {
  return padded ? static_cast<int64_t>(lengths.size()) * lengths.front() : real_tokens(lengths);
}

// ---- FLOPs -------------------------------------------------------------------------------

// Useful forward FLOPs per real token: for every layer and direction, the gate
// pre-activations W x and R h are G*H outputs of (I + H) multiply-adds:
//   2 * G * H * (I_layer + H),  G = 1 (rnn), 3 (gru), 4 (lstm),
// I_layer the embedding size for layer 0 and dirs*H above. Elementwise work is not counted;
// padding is not counted (it is wasted work, which is what the padding overhead shows).
// Backward (data and weights) is counted as twice the forward.
inline double forward_flops_per_token(const RnnShape& shape) {
  double flops = 0.0;
  for (int layer = 0; layer < shape.layers; ++layer)
    flops += shape.dirs * 2.0 * shape.gates() * shape.hidden * (shape.layer_input(layer) + shape.hidden);
  return flops;
}

// ---- Counters ----------------------------------------------------------------------------

// The counters every layer benchmark reports, per iteration of `sequences` reviews with
// `real` real and `computed` computed tokens.
inline void set_throughput_counters(benchmark::State& state, int64_t sequences, int64_t real,
                                    int64_t computed, double flops) {
  using benchmark::Counter;
  state.counters["tokens_per_second"] = Counter(static_cast<double>(real), Counter::kIsIterationInvariantRate);
  state.counters["sequences_per_second"] =
      Counter(static_cast<double>(sequences), Counter::kIsIterationInvariantRate);
  state.counters["GFLOP_per_second"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["padding_overhead"] = static_cast<double>(computed) / static_cast<double>(real);
  state.counters["real_tokens"] = static_cast<double>(real);
}

// Fills `out` with values uniform in [-scale, scale] by tiling one random block (fast for
// the hundreds of millions of inputs a padded batch of long reviews has).
inline void fill_random(float* out, size_t count, float scale, uint64_t seed) {
  constexpr size_t kBlock = 1 << 16;
  Rng rng(seed);
  std::vector<float> block(std::min(count, kBlock));
  for (float& v : block) v = rng.uniform(-scale, scale);
  for (size_t i = 0; i < count; i += block.size())
    std::memcpy(out + i, block.data(), sizeof(float) * std::min(block.size(), count - i));
}

}  // namespace rnnb::bench

// The recurrent-layer benchmark cases shared by the CPU (bench_cpu_rnn) and cuDNN
// (bench_rnn_layer) executables: one case is a cell, layout, pass and shape over a set of
// batches with a length distribution; the sweeps say which cases a run registers.
//
// The default sweep varies one dimension at a time around the default model (GRU, embed
// 128 -> hidden 256, one layer, batch 64, IMDB-length random batches), each for packed and
// padded, forward and forward+backward. --full registers bigger cartesian products. Quick
// mode shrinks every shape so the whole executable runs in seconds.
#pragma once

#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "bench_common.h"
#include "data/dataset.h"
#include "model/rnn_algo.h"

namespace rnnb::bench {

struct LayerCase {
  Cell cell = Cell::Gru;
  bool padded = false;
  bool backward = false;  // false: inference forward; true: training forward + backward
  RnnAlgo algo = RnnAlgo::Standard;  // cuDNN only
  RnnMath math = RnnMath::Fp32;      // cuDNN's modes; on the CPU fp32 or bf16
  int batch = 64;
  int embed = 128;
  int hidden = 256;
  int layers = 1;
  int dirs = 1;
  Lengths lengths = Lengths::Imdb;
  int batches = 1;      // batches per iteration (different samples of the distribution)
  int length_scale = 1;  // lengths divided by this (quick mode)

  RnnShape shape() const { return {cell, embed, hidden, layers, dirs}; }

  // "gru/layout:packed/pass:fwdbwd/batch:64/hidden:256/layers:1/dirs:1/lengths:imdb[/algo:..]"
  // after the executable's prefix; every field is key:value so reports can parse it.
  std::string name(const std::string& prefix, bool gpu) const {
    std::string out = prefix + "/cell:" + enum_name(cell) + "/layout:" + (padded ? "padded" : "packed") +
                      "/pass:" + (backward ? "fwdbwd" : "fwd") + "/batch:" + std::to_string(batch) +
                      "/hidden:" + std::to_string(hidden) + "/layers:" + std::to_string(layers) +
                      "/dirs:" + std::to_string(dirs) + "/lengths:" + lengths_name(lengths);
    if (gpu) out += "/algo:" + enum_name(algo) + "/math:" + enum_name(math);
    if (!gpu && math != RnnMath::Fp32) out += "/math:" + enum_name(math);
    if (embed != 128) out += "/embed:" + std::to_string(embed);
    return out;
  }
};

// A case's batches, drawn from the length distribution.
struct LayerWorkload {
  std::vector<std::vector<int>> lengths;  // per batch, longest first
  int64_t sequences = 0, real = 0, computed = 0;
  int64_t max_rows = 0;  // most rows of x / y one batch has
  double flops = 0.0;    // useful FLOPs of one iteration (all batches)

  LayerWorkload(const LayerCase& c, const LengthHistogram& histogram) {
    lengths = sample_batches(histogram, c.lengths, c.batch, c.batches, c.length_scale);
    for (const std::vector<int>& batch : lengths) {
      sequences += static_cast<int64_t>(batch.size());
      real += real_tokens(batch);
      computed += computed_tokens(batch, c.padded);
      max_rows = std::max(max_rows, computed_tokens(batch, c.padded));
    }
    flops = forward_flops_per_token(c.shape()) * static_cast<double>(real) * (c.backward ? 3.0 : 1.0);
  }
};

// Registers cases without duplicates, in order.
class CaseList {
 public:
  CaseList(std::string prefix, bool gpu) : prefix_(std::move(prefix)), gpu_(gpu) {}
  void add(const LayerCase& c) {
    if (seen_.insert(c.name(prefix_, gpu_)).second) cases_.push_back(c);
  }
  const std::vector<LayerCase>& cases() const { return cases_; }

 private:
  std::string prefix_;
  bool gpu_;
  std::set<std::string> seen_;
  std::vector<LayerCase> cases_;
};

inline const Cell kAllCells[] = {Cell::RnnTanh, Cell::RnnRelu, Cell::Gru, Cell::Lstm};
inline const Lengths kAllLengths[] = {Lengths::Fixed, Lengths::Uniform, Lengths::Imdb, Lengths::ImdbBucket};
inline const RnnAlgo kAllAlgos[] = {RnnAlgo::Standard, RnnAlgo::PersistStatic, RnnAlgo::PersistDynamic,
                                    RnnAlgo::PersistStaticSmallH};
inline const RnnMath kAllMaths[] = {RnnMath::Fp32, RnnMath::Tf32, RnnMath::Fp16};

inline std::vector<LayerCase> layer_sweep(const std::string& prefix, bool gpu, const Mode& mode) {
  CaseList list(prefix, gpu);
  LayerCase base;
  base.batches = gpu ? 4 : 1;  // the GPU is fast enough to average over four batches

  if (mode.quick) {
    base.embed = 8;
    base.hidden = 16;
    base.batch = 4;
    base.length_scale = 32;
    base.batches = 1;
    for (bool backward : {false, true})
      for (bool padded : {false, true}) {
        LayerCase c = base;
        c.backward = backward;
        c.padded = padded;
        for (Cell cell : kAllCells) c.cell = cell, list.add(c);
        c.cell = Cell::Gru;
        for (Lengths lengths : kAllLengths) c.lengths = lengths, list.add(c);
        c.lengths = Lengths::Imdb;
        c.layers = 2, c.dirs = 2, list.add(c);
        if (gpu) {
          c.layers = 1, c.dirs = 1;
          for (RnnAlgo algo : kAllAlgos) c.algo = algo, list.add(c);
          c.algo = RnnAlgo::Standard;
          for (RnnMath math : kAllMaths) c.math = math, list.add(c);
        }
      }
    return list.cases();
  }

  const std::vector<int> batches = gpu ? std::vector<int>{16, 32, 64, 128, 256, 512} : std::vector<int>{16, 64, 256};
  const std::vector<int> hiddens =
      gpu ? std::vector<int>{128, 256, 512, 1024, 2048} : std::vector<int>{128, 256, 512};
  const std::vector<int> layer_counts = gpu ? std::vector<int>{1, 2, 3, 4} : std::vector<int>{1, 2};

  if (!mode.full) {
    for (bool backward : {false, true})
      for (bool padded : {false, true}) {
        LayerCase c = base;
        c.backward = backward;
        c.padded = padded;
        list.add(c);
        for (Cell cell : kAllCells) {
          LayerCase v = c;
          v.cell = cell;
          list.add(v);
          if (!gpu && !padded) {  // the CPU's bf16 products (skipped where the build has no oneDNN)
            v.math = RnnMath::Bf16;
            list.add(v);
          }
        }
        for (Lengths lengths : kAllLengths) {
          LayerCase v = c;
          v.lengths = lengths;
          list.add(v);
          if (!gpu && !padded && lengths == Lengths::ImdbBucket) {  // the training epoch's batches, in bf16
            v.math = RnnMath::Bf16;
            list.add(v);
          }
        }
        // The shape sweeps: on the CPU only packed (padded costs ~3.8x for nothing new).
        if (!gpu && padded) continue;
        for (int batch : batches) {
          LayerCase v = c;
          v.batch = batch;
          list.add(v);
        }
        for (int hidden : hiddens) {
          LayerCase v = c;
          v.hidden = hidden;
          list.add(v);
        }
        for (int layers : layer_counts) {
          LayerCase v = c;
          v.layers = layers;
          list.add(v);
        }
        for (int dirs : {1, 2}) {
          LayerCase v = c;
          v.dirs = dirs;
          list.add(v);
        }
        if (gpu) {
          for (RnnAlgo algo : kAllAlgos) {
            LayerCase v = c;
            v.algo = algo;
            list.add(v);
          }
          for (RnnMath math : kAllMaths) {
            LayerCase v = c;
            v.math = math;
            list.add(v);
          }
        }
      }
    return list.cases();
  }

  // --full: cells x layouts x passes x batch x hidden x {imdb, imdb-bucket}, then algorithms
  // x math x cells x layouts, then layers x directions x cells x layouts.
  for (bool backward : {false, true})
    for (bool padded : {false, true})
      for (Cell cell : kAllCells) {
        LayerCase c = base;
        c.backward = backward;
        c.padded = padded;
        c.cell = cell;
        for (int batch : batches)
          for (int hidden : hiddens)
            for (Lengths lengths : {Lengths::Imdb, Lengths::ImdbBucket}) {
              LayerCase v = c;
              v.batch = batch;
              v.hidden = hidden;
              v.lengths = lengths;
              list.add(v);
            }
        if (gpu)
          for (RnnAlgo algo : kAllAlgos)
            for (RnnMath math : kAllMaths) {
              LayerCase v = c;
              v.algo = algo;
              v.math = math;
              list.add(v);
            }
        for (int layers : layer_counts)
          for (int dirs : {1, 2}) {
            LayerCase v = c;
            v.layers = layers;
            v.dirs = dirs;
            list.add(v);
          }
      }
  return list.cases();
}

// Where the layer benchmarks take review lengths from: the dataset when --data / RNNB_DATA
// names it (its 25,000 training reviews), else the stored histogram of the same reviews.
inline LengthHistogram layer_lengths(const Mode& mode) {
  if (mode.quick || mode.data.empty()) return LengthHistogram::stored();
  DataOptions options;
  options.path = mode.data;
  const Dataset dataset = load_dataset(options, &std::cerr);
  std::vector<int> lengths;
  for (const TokenizedSplit* set : {&dataset.train, &dataset.validation})
    for (size_t i = 0; i < set->size(); ++i) lengths.push_back(set->length(i));
  return LengthHistogram::from_lengths(lengths, "dataset " + dataset.source);
}

// Context lines describing the lengths a layer run drew from.
inline void add_lengths_context(const LengthHistogram& lengths) {
  benchmark::AddCustomContext("lengths_source", lengths.source());
  benchmark::AddCustomContext("lengths_mean", std::to_string(lengths.mean()));
  benchmark::AddCustomContext("lengths_max", std::to_string(lengths.max()));
}

}  // namespace rnnb::bench

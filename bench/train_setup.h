// The end-to-end training configurations the benchmarks time and the PyTorch peer repeats:
// every preset (src/cli/presets.h), plus the default GRU on random batches packed and
// post-padded (the end-to-end padded-vs-packed comparison), and the default shape with the
// other cells and as a bidirectional 2-layer stack (the per-cell comparison). Each resolves through the same option table and
// presets as `rnnbench train`, so the data settings, model and optimizer are identical.
// Quick mode swaps in a tiny synthetic dataset and shrinks the model (same structure).
#pragma once

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "cli/options.h"
#include "cli/presets.h"
#include "cli/run_config.h"
#include "data/dataset.h"
#include "data/vocab.h"

namespace rnnb::bench {

struct TrainVariant {
  std::string preset;
  std::vector<std::pair<std::string, std::string>> overrides;  // option name -> value

  // "default", "default/batching:random/padding:post", ...
  std::string name() const {
    std::string out = preset;
    for (const auto& [key, value] : overrides) out += "/" + key + ":" + value;
    return out;
  }
};

// The default shape with each cell and as a bidirectional 2-layer GRU.
inline const std::vector<TrainVariant>& cell_variants() {
  static const std::vector<TrainVariant> variants = {
      {"default", {}},
      {"default", {{"cell", "lstm"}}},
      {"default", {{"cell", "rnn-tanh"}}},
      {"default", {{"layers", "2"}, {"bidirectional", "true"}}},
  };
  return variants;
}

// Every preset of `rnnbench presets`, in its order, with the default GRU's two random-batch
// variants and the other cell variants right after it.
inline const std::vector<TrainVariant>& train_variants() {
  static const std::vector<TrainVariant> variants = [] {
    std::vector<TrainVariant> list;
    for (const Preset& preset : presets()) {
      list.push_back({preset.name, {}});
      if (preset.name == "default") {
        list.push_back({"default", {{"batching", "random"}}});
        list.push_back({"default", {{"batching", "random"}, {"padding", "post"}}});
        for (size_t i = 1; i < cell_variants().size(); ++i) list.push_back(cell_variants()[i]);
      }
    }
    return list;
  }();
  return variants;
}

// The CPU's whole-epoch set: every cell variant in fp32 and with --math bf16.
inline std::vector<TrainVariant> cpu_epoch_variants() {
  std::vector<TrainVariant> list = cell_variants();
  for (TrainVariant variant : cell_variants()) {
    variant.overrides.push_back({"math", "bf16"});
    list.push_back(variant);
  }
  return list;
}

// Mixed into the seed for the epoch's batch order, exactly as Trainer::run does, so a
// benchmarked epoch is the first epoch of `rnnbench train` with the same options.
inline constexpr uint64_t kEpochSeedMix = 0x243f6a8885a308d3ULL;

struct TrainSetup {
  TrainVariant variant;
  DataOptions data;
  ModelConfig model;  // vocab_size is set once the data is loaded
  OptimConfig optim;
  TrainOptions train;
  BackendOptions backend;
};

inline TrainSetup make_train_setup(const TrainVariant& variant, const Mode& mode) {
  std::vector<std::string> args = {"--preset", variant.preset};
  for (const auto& [key, value] : variant.overrides) args.push_back("--" + key + "=" + value);  // flags too
  if (!mode.data.empty()) {
    args.push_back("--data");
    args.push_back(mode.data);
  }
  const Options options = Options::parse("train", args);
  TrainSetup setup;
  setup.variant = variant;
  setup.data = data_options(options);
  setup.model = model_config(options, 0);
  setup.optim = optim_config(options);
  setup.train = train_options(options);
  setup.backend = backend_options(options);
  if (mode.quick) {  // same cell, layers, directions, padding and batching; tiny sizes
    setup.model.embed = 16;
    setup.model.hidden = 32;
    setup.train.batch_size = 16;
  }
  return setup;
}

// A small random dataset for quick mode: review lengths from the IMDB histogram divided by
// 32, random words of a 500-word vocabulary, random labels.
inline Dataset synthetic_dataset() {
  std::vector<std::string> words = {kPadWord, kUnkWord};
  for (int i = 2; i < 500; ++i) {
    std::string word = "w";
    word += std::to_string(i);
    words.push_back(word);
  }
  Dataset dataset;
  dataset.vocab = Vocab::from_words(words);
  dataset.source = "synthetic";
  const LengthHistogram lengths = LengthHistogram::stored();
  Rng rng(12345);
  auto fill = [&](TokenizedSplit& set, int reviews) {
    std::vector<int32_t> ids;
    for (int r = 0; r < reviews; ++r) {
      ids.resize(std::max(1, lengths.sample(rng) / 32));
      for (int32_t& id : ids) id = 2 + static_cast<int32_t>(rng.below(498));
      set.add(ids.data(), ids.size(), static_cast<uint8_t>(rng.below(2)));
    }
  };
  fill(dataset.train, 256);
  fill(dataset.validation, 64);
  fill(dataset.test, 64);
  return dataset;
}

// Loads (once per distinct data settings) the dataset a setup trains on, and sets the
// model's vocabulary size from it.
inline const Dataset& dataset_for(TrainSetup& setup, const Mode& mode) {
  // Keyed by the whole DataOptions (quick mode: one synthetic set for all).
  static std::vector<std::pair<DataOptions, std::unique_ptr<Dataset>>> loaded;
  const DataOptions key = mode.quick ? DataOptions{} : setup.data;
  auto found = std::find_if(loaded.begin(), loaded.end(), [&](const auto& entry) { return entry.first == key; });
  if (found == loaded.end()) found = loaded.insert(loaded.end(), {key, nullptr});
  std::unique_ptr<Dataset>& slot = found->second;
  if (!slot) {
    if (mode.quick) {
      slot = std::make_unique<Dataset>(synthetic_dataset());
    } else {
      slot = std::make_unique<Dataset>(load_dataset(setup.data, &std::cerr));
      truncate_reviews(slot->train, setup.data.max_len, setup.data.truncate_pre);
      truncate_reviews(slot->validation, setup.data.max_len, setup.data.truncate_pre);
      truncate_reviews(slot->test, setup.data.max_len, setup.data.truncate_pre);
    }
  }
  setup.model.vocab_size = slot->vocab.size();
  return *slot;
}

}  // namespace rnnb::bench

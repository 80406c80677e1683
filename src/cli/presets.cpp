// The preset table.
#include "cli/presets.h"

#include <iostream>

#include "util/error.h"

namespace rnnb {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> table = {
      {"default", "1-layer GRU, embedding 128, hidden 256, batch 64, packed, length-bucketed", "",
       {{"cell", "gru"}, {"embed", "128"}, {"hidden", "256"}, {"batch-size", "64"}, {"padding", "packed"},
        {"batching", "bucket"}}},
      {"tutorial-gru",
       "PyTorch tutorial GRU: embedding 128, hidden 256, post-padded batches classified from the last padded "
       "position, Adam 1e-3, 10 epochs, min count 5, 80/20 split",
       "85.68% test",
       {{"cell", "gru"}, {"embed", "128"}, {"hidden", "256"}, {"batch-size", "64"}, {"lr", "0.001"},
        {"epochs", "10"}, {"min-freq", "5"}, {"val-fraction", "0.2"}, {"padding", "post"}, {"batching", "bucket"}}},
      {"tutorial-rnn", "the tutorial-gru setup with a tanh RNN", "about 50% test (it never learned)",
       {{"cell", "rnn-tanh"}, {"embed", "128"}, {"hidden", "256"}, {"batch-size", "64"}, {"lr", "0.001"},
        {"epochs", "10"}, {"min-freq", "5"}, {"val-fraction", "0.2"}, {"padding", "post"}, {"batching", "bucket"}}},
      {"tutorial-bilstm",
       "2-layer bidirectional LSTM, embedding 100, hidden 256, dropout 0.5, vocabulary 25,000, packed, Adam 1e-3, "
       "5 epochs, 70/30 split (embeddings learned, the original used GloVe)",
       "87.03% test (with GloVe)",
       {{"cell", "lstm"}, {"embed", "100"}, {"hidden", "256"}, {"layers", "2"}, {"bidirectional", "true"},
        {"dropout", "0.5"}, {"head-dropout", "0.5"}, {"max-vocab", "25002"}, {"min-freq", "1"},
        {"padding", "packed"}, {"batching", "bucket"}, {"lr", "0.001"}, {"batch-size", "64"}, {"epochs", "5"},
        {"val-fraction", "0.3"}}},
      {"tutorial-bilstm-1layer", "tutorial-bilstm with 1 bidirectional layer and dropout 0.2",
       "88.49% test (with GloVe)",
       {{"cell", "lstm"}, {"embed", "100"}, {"hidden", "256"}, {"layers", "1"}, {"bidirectional", "true"},
        {"head-dropout", "0.2"}, {"max-vocab", "25002"}, {"min-freq", "1"}, {"padding", "packed"},
        {"batching", "bucket"}, {"lr", "0.001"}, {"batch-size", "64"}, {"epochs", "5"}, {"val-fraction", "0.3"}}},
      {"tutorial-lstm-3layer", "tutorial-bilstm with 3 unidirectional layers and dropout 0.2",
       "83.83% test (with GloVe)",
       {{"cell", "lstm"}, {"embed", "100"}, {"hidden", "256"}, {"layers", "3"}, {"bidirectional", "false"},
        {"dropout", "0.2"}, {"head-dropout", "0.2"}, {"max-vocab", "25002"}, {"min-freq", "1"},
        {"padding", "packed"}, {"batching", "bucket"}, {"lr", "0.001"}, {"batch-size", "64"}, {"epochs", "5"},
        {"val-fraction", "0.3"}}},
  };
  return table;
}

const Preset& find_preset(const std::string& name) {
  for (const Preset& preset : presets())
    if (preset.name == name) return preset;
  throw UsageError("unknown preset '" + name + "' (see `rnnbench presets`)");
}

void print_presets() {
  for (const Preset& preset : presets()) {
    std::cout << preset.name << "\n  " << preset.description << "\n";
    if (!preset.reference.empty()) std::cout << "  reference: " << preset.reference << "\n";
    std::cout << "  options:";
    for (const auto& [name, value] : preset.options) std::cout << " --" << name << " " << value;
    std::cout << "\n\n";
  }
}

}  // namespace rnnb

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
      {"tutorial-rnncell",
       "RNN-cell tutorial: reviews cut to 200 tokens and post-padded (to the batch's longest, about 200 with "
       "bucketing), vocabulary 10,000 with min count 10, embedding 100, tanh RNN 300 classified from the last "
       "padded position, a 256-unit ReLU layer, Adam 1e-4, batch 64, 5 epochs",
       "about 50% test (it never learned)",
       {{"cell", "rnn-tanh"}, {"embed", "100"}, {"hidden", "300"}, {"head-hidden", "256"}, {"max-len", "200"},
        {"truncate", "post"}, {"padding", "post"}, {"max-vocab", "10002"}, {"min-freq", "10"}, {"lr", "0.0001"},
        {"batch-size", "64"}, {"epochs", "5"}, {"batching", "bucket"}}},
      {"keras-simplernn",
       "Keras SimpleRNN: vocabulary 10,000, reviews pre-truncated and pre-padded to 500, embedding 32, two tanh RNN "
       "layers of 32 (the original's 32 -> 16 stack needs two hidden sizes, which one cuDNN RNN descriptor cannot "
       "hold), Adam 1e-3, batch 128, early stopping patience 5, learning rate halved after 3 epochs without "
       "improvement",
       "about 80-85% test (typical of Keras SimpleRNN tutorials of this shape; no single source)",
       {{"cell", "rnn-tanh"}, {"embed", "32"}, {"hidden", "32"}, {"layers", "2"}, {"max-vocab", "10000"},
        {"min-freq", "1"}, {"max-len", "500"}, {"truncate", "pre"}, {"padding", "pre"}, {"lr", "0.001"},
        {"batch-size", "128"}, {"epochs", "30"}, {"patience", "5"}, {"lr-plateau", "3"}, {"batching", "bucket"}}},
      {"best-lstm",
       "the project's LSTM: bidirectional 128, mean and max of the outputs over the real tokens, trained on "
       "50-token segments of each review and tested on whole reviews, embedding 128 with dropout 0.25, head "
       "dropout 0.5, vocabulary 30,000 (min count 2), packed and bucketed, Adam 1e-3 with clipping 1, the epoch "
       "kept by validation accuracy, learning rate halved after a flat epoch, early stopping, 10 epochs",
       "goal: >= 90.0% test",
       {{"cell", "lstm"}, {"embed", "128"}, {"hidden", "128"}, {"layers", "1"}, {"bidirectional", "true"},
        {"pool", "meanmax"}, {"embed-dropout", "0.25"}, {"head-dropout", "0.5"}, {"max-vocab", "30002"},
        {"min-freq", "2"}, {"padding", "packed"}, {"batching", "bucket"}, {"lr", "0.001"}, {"clip-norm", "1"},
        {"batch-size", "64"}, {"epochs", "10"}, {"chop", "50"}, {"select", "acc"}, {"lr-plateau", "1"},
        {"patience", "3"}}},
      {"best-gru", "best-lstm with a GRU, 6 epochs", "goal: >= 90.0% test",
       {{"cell", "gru"}, {"embed", "128"}, {"hidden", "128"}, {"layers", "1"}, {"bidirectional", "true"},
        {"pool", "meanmax"}, {"embed-dropout", "0.25"}, {"head-dropout", "0.5"}, {"max-vocab", "30002"},
        {"min-freq", "2"}, {"padding", "packed"}, {"batching", "bucket"}, {"lr", "0.001"}, {"clip-norm", "1"},
        {"batch-size", "64"}, {"epochs", "6"}, {"chop", "50"}, {"select", "acc"}, {"lr-plateau", "1"},
        {"patience", "3"}}},
      {"best-rnn",
       "the project's tanh RNN: best-lstm's recipe with clipping 0.5 and 6 epochs; 50-token segments, packed "
       "sequences and pooling over every real token give short gradient paths (see docs/ACCURACY.md)",
       "goal: >= 87% test",
       {{"cell", "rnn-tanh"}, {"embed", "128"}, {"hidden", "128"}, {"layers", "1"}, {"bidirectional", "true"},
        {"pool", "meanmax"}, {"embed-dropout", "0.25"}, {"head-dropout", "0.5"}, {"max-vocab", "30002"},
        {"min-freq", "2"}, {"padding", "packed"}, {"batching", "bucket"}, {"lr", "0.001"}, {"clip-norm", "0.5"},
        {"batch-size", "64"}, {"epochs", "6"}, {"chop", "50"}, {"select", "acc"}, {"lr-plateau", "1"},
        {"patience", "3"}}},
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

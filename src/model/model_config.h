// The classifier's architecture and optimizer settings, and the canonical layout of all its
// parameters in one flat float vector: embedding, recurrent stack, head. Checkpoints store
// this layout; each backend maps it to its own storage.
#pragma once

#include <cstddef>
#include <string>

#include "model/rnn_shape.h"

namespace rnnb {

struct ModelConfig {
  Cell cell = Cell::Gru;
  int vocab_size = 0;
  int embed = 128;
  int hidden = 256;
  int layers = 1;
  bool bidirectional = false;
  float rnn_dropout = 0.0f;   // between stacked layers, as cuDNN applies it
  float head_dropout = 0.0f;  // on the features entering the linear head
  int classes = 2;

  RnnShape rnn_shape() const { return {cell, embed, hidden, layers, bidirectional ? 2 : 1}; }
  int features() const { return (bidirectional ? 2 : 1) * hidden; }
  bool operator==(const ModelConfig&) const = default;
};

struct OptimConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // L2 added to the gradient, as torch.optim.Adam does
  float clip_norm = 0.0f;     // global gradient-norm clipping; 0 disables
};

// Offsets (in floats) of each parameter group in the canonical flat vector.
struct ParamLayout {
  explicit ParamLayout(const ModelConfig& config)
      : embedding(0),
        rnn(static_cast<size_t>(config.vocab_size) * config.embed),
        head_w(rnn + config.rnn_shape().weight_count()),
        head_b(head_w + static_cast<size_t>(config.classes) * config.features()),
        total(head_b + config.classes) {}
  size_t embedding, rnn, head_w, head_b, total;
};

}  // namespace rnnb

// The classifier's architecture and optimizer settings, and the canonical layout of all its
// parameters in one flat float vector: embedding, recurrent stack, output layer, then the
// optional hidden head layer. Checkpoints store this layout; each backend maps it to its
// own storage.
#pragma once

#include <cstddef>
#include <string>

#include "data/padding.h"
#include "model/rnn_shape.h"
#include "util/name_table.h"

namespace rnnb {

// The features entering the head: the top layer's final states (Last), or the mean,
// elementwise max, or both side by side, of its outputs over each review's real positions.
enum class Pool { Last, Mean, Max, MeanMax };

inline constexpr auto kPoolNames = make_name_table<Pool>("--pool", {
    {Pool::Last, "last", "the final states"},
    {Pool::Mean, "mean", "average of the top layer's outputs over each review's real tokens"},
    {Pool::Max, "max", "their elementwise maximum"},
    {Pool::MeanMax, "meanmax", "both side by side"},
});
constexpr const auto& names_of(Pool) { return kPoolNames; }

struct ModelConfig {
  Cell cell = Cell::Gru;
  int vocab_size = 0;
  int embed = 128;
  int hidden = 256;
  int layers = 1;
  bool bidirectional = false;
  float rnn_dropout = 0.0f;   // between stacked layers, as cuDNN applies it
  float head_dropout = 0.0f;  // on the features entering the head
  int classes = 2;
  Pool pool = Pool::Last;
  float embed_dropout = 0.0f;  // inverted dropout on the embedding outputs (training only)
  float word_dropout = 0.0f;   // share of real tokens read as <unk> instead (training only)
  int head_hidden = 0;         // units of a ReLU layer between features and output; 0 = none
  // Packed or padded batches (model/padding.h). No parameter depends on it, but a padded
  // model is evaluated and queried with the padding it was trained with.
  Padding padding = Padding::Packed;

  RnnShape rnn_shape() const { return {cell, embed, hidden, layers, bidirectional ? 2 : 1}; }
  int features() const { return (pool == Pool::MeanMax ? 2 : 1) * (bidirectional ? 2 : 1) * hidden; }
  // Width entering the output layer: the hidden head layer's units, or the features.
  int head_input() const { return head_hidden > 0 ? head_hidden : features(); }
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

// Offsets (in floats) of each parameter group in the canonical flat vector, in this order:
//   embedding [vocab x embed] | recurrent stack (model/rnn_shape.h) |
//   head_w [classes x head_input] | head_b [classes] |
//   hidden_w [head_hidden x features] | hidden_b [head_hidden]   (empty when head_hidden = 0)
// head_w/head_b are always the output layer; the hidden layer comes last so a model without
// it has exactly the layout it had before the option existed.
struct ParamLayout {
  explicit ParamLayout(const ModelConfig& config)
      : embedding(0),
        rnn(static_cast<size_t>(config.vocab_size) * config.embed),
        head_w(rnn + config.rnn_shape().weight_count()),
        head_b(head_w + static_cast<size_t>(config.classes) * config.head_input()),
        hidden_w(head_b + config.classes),
        hidden_b(hidden_w + static_cast<size_t>(config.head_hidden) * config.features()),
        total(hidden_b + config.head_hidden) {}
  size_t embedding, rnn, head_w, head_b, hidden_w, hidden_b, total;
};

}  // namespace rnnb

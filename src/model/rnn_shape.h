// The recurrent stack's shape and the canonical layout of its weights, shared by both
// backends and by checkpoints. It is cuDNN's layout, seen through cudnnGetRNNWeightParams:
// for each layer, for each direction (forward first), in this order
//   W  [G*H x I]   input weights, gates stacked in cuDNN order, row-major
//   R  [G*H x H]   recurrent weights, same gate order
//   bW [G*H]       input bias
//   bR [G*H]       recurrent bias
// with G gates: rnn 1; gru 3 (r, z, h); lstm 4 (i, f, g, o). I is the embedding size for
// layer 0 and dirs*H above it.
#pragma once

#include <cstddef>
#include <string>

#include "util/name_table.h"

namespace rnnb {

enum class Cell { RnnTanh, RnnRelu, Gru, Lstm };

inline constexpr auto kCellNames = make_name_table<Cell>("--cell", {
    {Cell::RnnTanh, "rnn-tanh", "Elman RNN, tanh"},
    {Cell::RnnRelu, "rnn-relu", "Elman RNN, ReLU"},
    {Cell::Gru, "gru", "gated recurrent unit"},
    {Cell::Lstm, "lstm", "long short-term memory"},
    {Cell::RnnTanh, "rnn", "", true},
    {Cell::RnnTanh, "tanh", "", true},
    {Cell::RnnRelu, "relu", "", true},
});
constexpr const auto& names_of(Cell) { return kCellNames; }

inline int gate_count(Cell cell) {
  switch (cell) {
    case Cell::Gru: return 3;
    case Cell::Lstm: return 4;
    default: return 1;
  }
}

struct RnnShape {
  Cell cell = Cell::Gru;
  int input = 0;   // features per token entering layer 0
  int hidden = 0;  // H
  int layers = 1;
  int dirs = 1;    // 1 or 2 (bidirectional)

  int gates() const { return gate_count(cell); }
  int layer_input(int layer) const { return layer == 0 ? input : dirs * hidden; }
  int output() const { return dirs * hidden; }  // features per token leaving the top layer

  // Weights of one (layer, direction) block and where it starts in the canonical layout.
  size_t block_size(int layer) const {
    const size_t gh = static_cast<size_t>(gates()) * hidden;
    return gh * layer_input(layer) + gh * hidden + 2 * gh;
  }
  size_t block_offset(int layer, int dir) const {
    size_t offset = 0;
    for (int l = 0; l < layer; ++l) offset += dirs * block_size(l);
    return offset + dir * block_size(layer);
  }
  size_t weight_count() const { return block_offset(layers, 0); }

  // Offsets inside a block.
  size_t w_offset(int /*layer*/) const { return 0; }
  size_t r_offset(int layer) const {
    return static_cast<size_t>(gates()) * hidden * layer_input(layer);
  }
  size_t bw_offset(int layer) const {
    return r_offset(layer) + static_cast<size_t>(gates()) * hidden * hidden;
  }
  size_t br_offset(int layer) const { return bw_offset(layer) + static_cast<size_t>(gates()) * hidden; }
};

}  // namespace rnnb

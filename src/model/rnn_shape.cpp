// Cell names as the command line spells them.
#include "model/rnn_shape.h"

#include "util/error.h"

namespace rnnb {

std::string cell_name(Cell cell) {
  switch (cell) {
    case Cell::RnnTanh: return "rnn-tanh";
    case Cell::RnnRelu: return "rnn-relu";
    case Cell::Gru: return "gru";
    case Cell::Lstm: return "lstm";
  }
  return "?";
}

Cell parse_cell(const std::string& name) {
  if (name == "rnn-tanh" || name == "rnn" || name == "tanh") return Cell::RnnTanh;
  if (name == "rnn-relu" || name == "relu") return Cell::RnnRelu;
  if (name == "gru") return Cell::Gru;
  if (name == "lstm") return Cell::Lstm;
  throw UsageError("unknown cell '" + name + "' (expected rnn-tanh, rnn-relu, gru or lstm)");
}

}  // namespace rnnb

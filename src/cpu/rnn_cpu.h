// The CPU recurrent stack: RNN (tanh, relu), GRU and LSTM with exactly cuDNN's equations,
// gate order and double-bias weight layout (model/rnn_shape.h), several layers,
// bidirectional, dropout between layers, over batches in cuDNN's packed layout.
//
// Packed layout: time-major; sequences sorted by decreasing length; batch_sizes[t] of them
// are active at step t (non-increasing); row n of x/y is (t, b) in that order. A padded
// batch is the special case where every batch_sizes[t] is the whole batch.
// Final states hy/cy are [layers*dirs x B x H]: (layer, direction) blocks, forward first;
// forward direction: the state at each sequence's last token; reverse: at its first token.
// Initial states are zero.
//
// Equations (cuDNN's, per direction; x the layer input, h the previous state):
//   rnn:  h = act(W x + bW + R h + bR)
//   gru:  r = sig(Wr x + bWr + Rr h + bRr);  z = sig(Wz x + bWz + Rz h + bRz)
//         n = tanh(Wh x + bWh + r * (Rh h + bRh));  h' = (1 - z) * n + z * h
//   lstm: i, f, o = sig(W. x + bW. + R. h + bR.);  g = tanh(Wg x + bWg + Rg h + bRg)
//         c' = f * c + i * g;  h' = o * tanh(c')
#pragma once

#include <memory>
#include <vector>

#include "model/rnn_shape.h"
#include "util/rng.h"

namespace rnnb {

class ThreadTeam;

struct CpuRnnOptions {
  // Lanes for the recurrence (sequences split between them) and the all-token products;
  // null runs everything on the calling thread. Outputs and the input gradient do not
  // depend on the team's size; the weight gradients, summed per lane and chunk, do in
  // their last bits.
  ThreadTeam* team = nullptr;
  // Float only: bf16 operands in every matrix product, fp32 accumulation, state and
  // weights (cuDNN's reduced-precision semantics). Needs a build with oneDNN.
  bool bf16 = false;
};

template <typename T>
class CpuRnn {
 public:
  explicit CpuRnn(const RnnShape& shape, float dropout = 0.0f, CpuRnnOptions options = {});
  ~CpuRnn();
  CpuRnn(CpuRnn&&) noexcept;
  CpuRnn& operator=(CpuRnn&&) noexcept;

  const RnnShape& shape() const;

  // Runs the stack. weights: canonical layout (shape.weight_count()). x: [N x input].
  // y: [N x dirs*H]; after a train forward, x and y must stay valid and unchanged until
  // backward(), which reads the states entering each step from y (as cuDNN's does; dy
  // may be y itself). hy (and cy for LSTM; else null):
  // [layers*dirs x B x H]. With train, activations are kept for backward() and dropout
  // (if any) draws its masks from rng; without, dropout is off and nothing is kept.
  void forward(const T* weights, const T* x, const std::vector<int>& batch_sizes, T* y,
               T* hy, T* cy, bool train, Rng* rng);

  // Gradients of the last train forward(). dy may be null (no loss on outputs); dhy/dcy
  // may be null. Writes dx [N x input] when non-null; ADDS into dweights.
  void backward(const T* weights, const T* dy, const T* dhy, const T* dcy, T* dx,
                T* dweights);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class CpuRnn<float>;
extern template class CpuRnn<double>;

}  // namespace rnnb

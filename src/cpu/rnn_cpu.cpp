// The CPU recurrent stack (cpu/rnn_cpu.h). Per layer and direction: one gemm projects every
// token's input, then each time step runs one gemm over its active rows and the elementwise
// cell. Backward mirrors it: per step one gemm for the gradient of the previous state, then
// the weight and input gradients as single gemms over all tokens.
#include "cpu/rnn_cpu.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/rnn_cells.h"
#include "util/blas.h"
#include "util/error.h"

namespace rnnb {
namespace {

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// acc[j] += column sums of a [rows x cols] matrix (bias gradients, summed per step while
// the rows are still in cache).
template <typename T>
void add_column_sums(const T* __restrict m, int rows, int cols, T* __restrict acc) {
  for (int r = 0; r < rows; ++r) {
    const T* row = m + static_cast<size_t>(r) * cols;
    for (int j = 0; j < cols; ++j) acc[j] += row[j];
  }
}

}  // namespace

template <typename T>
struct CpuRnn<T>::Impl {
  // What one (layer, direction) keeps from forward for backward; rows are tokens.
  struct DirStore {
    std::vector<T> gates;      // [N x G*H] activated gates (rnn: h)
    std::vector<T> hprev;      // [N x H] state entering each token's step
    std::vector<T> hn;         // gru: [N x H] Rh h_prev + bRh
    std::vector<T> cprev;      // lstm: [N x H]
    std::vector<T> cell;       // lstm: [N x H] c
    std::vector<T> tanh_cell;  // lstm: [N x H] tanh(c)
  };
  // Per layer: its output (below the top; the top writes into y) and, above layer 0, the
  // dropout mask and the dropped-out input.
  struct LayerStore {
    std::vector<T> out;
    std::vector<T> mask;
    std::vector<T> input;
    DirStore dir[2];
  };

  RnnShape shape;
  float dropout = 0.0f;
  std::vector<LayerStore> layers;

  // The last forward.
  std::vector<int> batch_sizes;
  std::vector<size_t> row_start;  // first row of each step
  size_t tokens = 0;
  int batch = 0;
  const T* x = nullptr;
  bool have_train_state = false;
  bool dropout_applied = false;

  // Scratch.
  std::vector<T> gr;                    // [B x G*H]
  std::vector<T> dgx, dgr;              // [N x G*H]
  std::vector<T> dh_state, dc_state;    // [B x H]
  std::vector<T> dlayer[2];             // [N x dirs*H] gradient between layers
  std::vector<T> bias_in, bias_rec;      // [G*H] bias gradient sums

  int gates_hidden() const { return shape.gates() * shape.hidden; }
  const T* layer_input(int l) const {
    if (l == 0) return x;
    return dropout_applied ? layers[l].input.data() : layers[l - 1].out.data();
  }
  int layer_input_ld(int l) const { return shape.layer_input(l); }

  // Rows with a previous state at step t, and where that state's step starts.
  int prev_rows(int dir, int t) const {
    const int steps = static_cast<int>(batch_sizes.size());
    if (dir == 0) return t > 0 ? batch_sizes[t] : 0;
    return t + 1 < steps ? batch_sizes[t + 1] : 0;
  }
  size_t prev_start(int dir, int t) const { return dir == 0 ? row_start[t - 1] : row_start[t + 1]; }

  void run_direction(int l, int d, const T* weights, T* out, T* hy, T* cy);
  void backward_direction(int l, int d, const T* weights, const T* dy, const T* dhy,
                          const T* dcy, T* dx, T* dweights);
};

template <typename T>
void CpuRnn<T>::Impl::run_direction(int l, int d, const T* weights, T* out, T* hy, T* cy) {
  const int H = shape.hidden;
  const int GH = gates_hidden();
  const int I = shape.layer_input(l);
  const int ldo = shape.output();
  const int steps = static_cast<int>(batch_sizes.size());
  const T* block = weights + shape.block_offset(l, d);
  const T* W = block + shape.w_offset(l);
  const T* R = block + shape.r_offset(l);
  const T* bW = block + shape.bw_offset(l);
  const T* bR = block + shape.br_offset(l);
  DirStore& s = layers[l].dir[d];
  const size_t N = tokens;
  const Cell cell = shape.cell;

  grow(s.gates, N * GH);
  grow(s.hprev, N * H);
  if (cell == Cell::Gru) grow(s.hn, N * H);
  if (cell == Cell::Lstm) {
    grow(s.cprev, N * H);
    grow(s.cell, N * H);
    grow(s.tanh_cell, N * H);
  }

  // Input projection of every token at once: gates = X W^T + bW.
  for (size_t n = 0; n < N; ++n) std::memcpy(s.gates.data() + n * GH, bW, sizeof(T) * GH);
  gemm(Trans::No, Trans::Yes, static_cast<int>(N), GH, I, T(1), layer_input(l),
       layer_input_ld(l), W, I, T(1), s.gates.data(), GH);

  T* hy_block = hy ? hy + static_cast<size_t>(l * shape.dirs + d) * batch * H : nullptr;
  T* cy_block = cy ? cy + static_cast<size_t>(l * shape.dirs + d) * batch * H : nullptr;

  for (int k = 0; k < steps; ++k) {
    const int t = d == 0 ? k : steps - 1 - k;
    const int rows = batch_sizes[t];
    const size_t n0 = row_start[t];
    const int with_state = prev_rows(d, t);

    // The state entering this step: copied per token (backward needs it), zero for rows
    // that start here.
    T* hp = s.hprev.data() + n0 * H;
    if (with_state > 0) {
      const size_t p0 = prev_start(d, t);
      for (int b = 0; b < with_state; ++b)
        std::memcpy(hp + static_cast<size_t>(b) * H, out + (p0 + b) * ldo + d * H, sizeof(T) * H);
    }
    std::fill(hp + static_cast<size_t>(with_state) * H, hp + static_cast<size_t>(rows) * H, T(0));
    if (with_state > 0)
      gemm(Trans::No, Trans::Yes, with_state, GH, H, T(1), hp, H, R, H, T(0), gr.data(), GH);
    std::fill(gr.data() + static_cast<size_t>(with_state) * GH,
              gr.data() + static_cast<size_t>(rows) * GH, T(0));

    rnn_cells::StepIn<T> in{rows, H, gr.data(), bR};
    T* gates = s.gates.data() + n0 * GH;
    T* h_out = out + n0 * ldo + d * H;
    switch (cell) {
      case Cell::RnnTanh:
      case Cell::RnnRelu:
        rnn_cells::rnn_forward(in, cell == Cell::RnnRelu, gates, h_out, ldo);
        break;
      case Cell::Gru:
        rnn_cells::gru_forward(in, hp, gates, s.hn.data() + n0 * H, h_out, ldo);
        break;
      case Cell::Lstm: {
        T* cp = s.cprev.data() + n0 * H;
        if (with_state > 0) {
          const size_t p0 = prev_start(d, t);
          std::memcpy(cp, s.cell.data() + p0 * H, sizeof(T) * H * with_state);
        }
        std::fill(cp + static_cast<size_t>(with_state) * H, cp + static_cast<size_t>(rows) * H, T(0));
        rnn_cells::lstm_forward(in, cp, gates, s.cell.data() + n0 * H,
                                s.tanh_cell.data() + n0 * H, h_out, ldo);
        break;
      }
    }

    // Final states: forward, the sequences whose last token is at t; reverse, all at t = 0.
    const int ending_from = d == 0 ? (t + 1 < steps ? batch_sizes[t + 1] : 0) : (t == 0 ? 0 : rows);
    for (int b = ending_from; b < rows; ++b) {
      if (hy_block)
        std::memcpy(hy_block + static_cast<size_t>(b) * H, h_out + static_cast<size_t>(b) * ldo,
                    sizeof(T) * H);
      if (cy_block && cell == Cell::Lstm)
        std::memcpy(cy_block + static_cast<size_t>(b) * H, s.cell.data() + (n0 + b) * H,
                    sizeof(T) * H);
    }
  }
}

template <typename T>
void CpuRnn<T>::Impl::backward_direction(int l, int d, const T* weights, const T* dy,
                                         const T* dhy, const T* dcy, T* dx, T* dweights) {
  const int H = shape.hidden;
  const int GH = gates_hidden();
  const int I = shape.layer_input(l);
  const int ldo = shape.output();
  const int steps = static_cast<int>(batch_sizes.size());
  const size_t offset = shape.block_offset(l, d);
  const T* R = weights + offset + shape.r_offset(l);
  const T* W = weights + offset + shape.w_offset(l);
  T* dW = dweights + offset + shape.w_offset(l);
  T* dR = dweights + offset + shape.r_offset(l);
  T* dbW = dweights + offset + shape.bw_offset(l);
  T* dbR = dweights + offset + shape.br_offset(l);
  const DirStore& s = layers[l].dir[d];
  const size_t N = tokens;
  const Cell cell = shape.cell;
  const bool gru = cell == Cell::Gru;

  grow(dgx, N * GH);
  if (gru) grow(dgr, N * GH);
  T* dg_in = dgx.data();
  T* dg_rec = gru ? dgr.data() : dgx.data();  // equal except for GRU's n gate
  bias_in.assign(GH, T(0));
  bias_rec.assign(GH, T(0));

  const size_t block = static_cast<size_t>(l * shape.dirs + d) * batch * H;
  if (dhy)
    std::memcpy(dh_state.data(), dhy + block, sizeof(T) * batch * H);
  else
    std::fill(dh_state.begin(), dh_state.begin() + static_cast<size_t>(batch) * H, T(0));
  if (cell == Cell::Lstm) {
    if (dcy)
      std::memcpy(dc_state.data(), dcy + block, sizeof(T) * batch * H);
    else
      std::fill(dc_state.begin(), dc_state.begin() + static_cast<size_t>(batch) * H, T(0));
  }

  for (int k = 0; k < steps; ++k) {
    const int t = d == 0 ? steps - 1 - k : k;  // the reverse of the forward order
    const int rows = batch_sizes[t];
    const size_t n0 = row_start[t];
    const int with_state = prev_rows(d, t);
    T* dh = dh_state.data();

    if (dy) {
      for (int b = 0; b < rows; ++b) {
        const T* src = dy + (n0 + b) * ldo + d * H;
        T* dst = dh + static_cast<size_t>(b) * H;
        for (int j = 0; j < H; ++j) dst[j] += src[j];
      }
    }
    const T* gates = s.gates.data() + n0 * GH;
    switch (cell) {
      case Cell::RnnTanh:
      case Cell::RnnRelu:
        rnn_cells::rnn_backward(rows, H, cell == Cell::RnnRelu, gates, dh, dg_in + n0 * GH);
        break;
      case Cell::Gru:
        rnn_cells::gru_backward(rows, H, gates, s.hn.data() + n0 * H, s.hprev.data() + n0 * H,
                                dh, dg_in + n0 * GH, dg_rec + n0 * GH);
        break;
      case Cell::Lstm:
        rnn_cells::lstm_backward(rows, H, gates, s.cprev.data() + n0 * H,
                                 s.tanh_cell.data() + n0 * H, dh, dc_state.data(),
                                 dg_in + n0 * GH);
        break;
    }
    add_column_sums(dg_in + n0 * GH, rows, GH, bias_in.data());
    if (gru) add_column_sums(dg_rec + n0 * GH, rows, GH, bias_rec.data());
    // dh_prev = dGr R (+ z * dh for GRU, left in dh by the cell).
    if (with_state > 0)
      gemm(Trans::No, Trans::No, with_state, H, GH, T(1), dg_rec + n0 * GH, GH, R, H,
           gru ? T(1) : T(0), dh, H);
  }

  const int n = static_cast<int>(N);
  gemm(Trans::Yes, Trans::No, GH, I, n, T(1), dg_in, GH, layer_input(l), layer_input_ld(l),
       T(1), dW, I);
  gemm(Trans::Yes, Trans::No, GH, H, n, T(1), dg_rec, GH, s.hprev.data(), H, T(1), dR, H);
  for (int j = 0; j < GH; ++j) {
    dbW[j] += bias_in[j];
    dbR[j] += gru ? bias_rec[j] : bias_in[j];
  }
  if (dx)
    gemm(Trans::No, Trans::No, n, I, GH, T(1), dg_in, GH, W, I, d == 0 ? T(0) : T(1), dx, I);
}

template <typename T>
CpuRnn<T>::CpuRnn(const RnnShape& shape, float dropout) : impl_(std::make_unique<Impl>()) {
  if (shape.input <= 0 || shape.hidden <= 0 || shape.layers < 1)
    fail("rnn: input size, hidden size and layer count must be positive");
  if (shape.dirs != 1 && shape.dirs != 2) fail("rnn: directions must be 1 or 2");
  if (!(dropout >= 0.0f && dropout < 1.0f))
    fail("rnn: dropout must be in [0, 1), got " + std::to_string(dropout));
  impl_->shape = shape;
  impl_->dropout = dropout;
  impl_->layers.resize(shape.layers);
}

template <typename T>
CpuRnn<T>::~CpuRnn() = default;
template <typename T>
CpuRnn<T>::CpuRnn(CpuRnn&&) noexcept = default;
template <typename T>
CpuRnn<T>& CpuRnn<T>::operator=(CpuRnn&&) noexcept = default;

template <typename T>
const RnnShape& CpuRnn<T>::shape() const {
  return impl_->shape;
}

template <typename T>
void CpuRnn<T>::forward(const T* weights, const T* x, const std::vector<int>& batch_sizes, T* y,
                        T* hy, T* cy, bool train, Rng* rng) {
  Impl& m = *impl_;
  const RnnShape& shape = m.shape;
  if (batch_sizes.empty() || batch_sizes[0] <= 0) fail("rnn: empty batch");
  for (size_t t = 1; t < batch_sizes.size(); ++t)
    if (batch_sizes[t] <= 0 || batch_sizes[t] > batch_sizes[t - 1])
      fail("rnn: batch sizes must be positive and non-increasing");
  const bool use_dropout = train && m.dropout > 0.0f && shape.layers > 1;
  if (use_dropout && !rng) fail("rnn: dropout in training needs a random number generator");

  m.have_train_state = false;
  m.batch_sizes = batch_sizes;
  m.row_start.resize(batch_sizes.size());
  size_t n = 0;
  for (size_t t = 0; t < batch_sizes.size(); ++t) {
    m.row_start[t] = n;
    n += batch_sizes[t];
  }
  m.tokens = n;
  m.batch = batch_sizes[0];
  m.x = x;
  m.dropout_applied = use_dropout;

  const int H = shape.hidden;
  const size_t width = static_cast<size_t>(shape.output());
  grow(m.gr, static_cast<size_t>(m.batch) * shape.gates() * H);
  grow(m.dh_state, static_cast<size_t>(m.batch) * H);
  grow(m.dc_state, static_cast<size_t>(m.batch) * H);

  for (int l = 0; l < shape.layers; ++l) {
    auto& layer = m.layers[l];
    if (l > 0 && use_dropout) {
      // Inverted dropout on the previous layer's output, as cuDNN applies between layers.
      const T scale = T(1) / (T(1) - static_cast<T>(m.dropout));
      grow(layer.mask, n * width);
      grow(layer.input, n * width);
      const T* prev = m.layers[l - 1].out.data();
      for (size_t i = 0; i < n * width; ++i) {
        layer.mask[i] = rng->uniform() >= m.dropout ? scale : T(0);
        layer.input[i] = prev[i] * layer.mask[i];
      }
    }
    T* out;
    if (l + 1 == shape.layers) {
      out = y;
    } else {
      grow(layer.out, n * width);
      out = layer.out.data();
    }
    for (int d = 0; d < shape.dirs; ++d) m.run_direction(l, d, weights, out, hy, cy);
  }
  m.have_train_state = train;
}

template <typename T>
void CpuRnn<T>::backward(const T* weights, const T* dy, const T* dhy, const T* dcy, T* dx,
                         T* dweights) {
  Impl& m = *impl_;
  if (!m.have_train_state) fail("rnn: backward without a preceding training forward");
  const RnnShape& shape = m.shape;
  const size_t width = static_cast<size_t>(shape.output());
  const T* d_out = dy;  // gradient of the current layer's output (null: zero)
  int ping = 0;
  for (int l = shape.layers - 1; l >= 0; --l) {
    T* d_in = nullptr;  // gradient of the layer's input
    if (l > 0) {
      grow(m.dlayer[ping], m.tokens * width);
      d_in = m.dlayer[ping].data();
    } else {
      d_in = dx;
    }
    for (int d = 0; d < shape.dirs; ++d)
      m.backward_direction(l, d, weights, d_out, dhy, shape.cell == Cell::Lstm ? dcy : nullptr,
                           d_in, dweights);
    if (l > 0 && m.dropout_applied) {
      const T* mask = m.layers[l].mask.data();
      for (size_t i = 0; i < m.tokens * width; ++i) d_in[i] *= mask[i];
    }
    d_out = d_in;
    ping ^= 1;
  }
}

template class CpuRnn<float>;
template class CpuRnn<double>;

}  // namespace rnnb

// The CPU recurrent stack (cpu/rnn_cpu.h). Per layer and direction, forward: the
// recurrence, each step projecting its own tokens' inputs beside the recurrent product.
// Backward: the recurrence in reverse, with the weight and input gradients taken chunk by
// chunk while the gate gradients are still in cache (never stored for the whole batch).
// The team's lanes split the recurrence by sequence: lane j owns sequences j, j+L, j+2L, ...
// of the batch, so its rows at a step are every L-th row, a lane never waits for another
// within a pass, and each lane sums its own weight gradient (added up at the end).
// Every product has the form C = A B or C = A^T B (cpu/matmul.h): the forward pass uses
// transposed copies of W and R, and the weight gradients are summed transposed,
// dW^T += X^T dG, the chunk's X rows read transposed by the product.
#include "cpu/rnn_cpu.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "cpu/float_env.h"
#include "cpu/matmul.h"
#include "cpu/matmul_bf16.h"
#include "cpu/rnn_cells.h"
#include "cpu/streaming_store.h"
#include "cpu/thread_team.h"
#include "util/error.h"

namespace rnnb {
namespace {

// Rows of gate gradients a lane gathers before it takes their weight and input gradients:
// the products' operands stay in L2, and each weight-gradient product adds enough rows into
// its [I or H x G*H] sum to amortise reading and writing that sum (with 96 bf16 rows it ran
// at 0.74-0.78 of the other products' rate, with 192 at 0.85). bf16 operands take half the
// bytes, so bf16 mode takes twice the rows.
constexpr int kChunkRows = 96;
constexpr int kChunkRowsBf16 = 192;

template <typename Vector>
void grow(Vector& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// How many of rows 0..count-1 belong to lane (every lanes-th row from row lane).
int lane_rows(int count, int lane, int lanes) { return count > lane ? (count - 1 - lane) / lanes + 1 : 0; }

// dst[cols x rows] = src[rows x cols]^T (src row stride ld), in 16 x 16 blocks so that
// both the reads and the writes stay within a few cache lines.
template <typename T>
void transpose(const T* __restrict src, int rows, int cols, int ld, T* __restrict dst) {
  constexpr int kBlock = 16;
  for (int r0 = 0; r0 < rows; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock) {
      const int r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) dst[static_cast<size_t>(c) * rows + r] = src[static_cast<size_t>(r) * ld + c];
    }
}

}  // namespace

template <typename T>
struct CpuRnn<T>::Impl {
  // What one (layer, direction) keeps from forward for backward; rows are tokens.
  struct DirStore {
    // The state entering a token's step is not kept: it is the layer's output (and, for LSTM,
    // cell) row of the same sequence's previous token (state_before, cell_before).
    // What only backward reads is streamed past the caches (cpu/streaming_store.h); c is
    // read by the next step as well, so it is stored as usual.
    CacheLineVector<T> gates;      // [N x G*H] activated gates (rnn: h)
    CacheLineVector<T> hn;         // gru: [N x H] Rh h_prev + bRh
    std::vector<T> cell;           // lstm: [N x H] c
    CacheLineVector<T> tanh_cell;  // lstm: [N x H] tanh(c)
  };
  // Per layer: its output (below the top; the top writes into y) and, above layer 0, the
  // dropout mask and the dropped-out input.
  struct LayerStore {
    std::vector<T> out;
    std::vector<T> mask;
    std::vector<T> input;
    DirStore dir[2];
  };
  // The weights of one (layer, direction) in the orientations the products take.
  struct DirWeights {
    std::vector<T> wrt;                      // [W^T; R^T]: [(I + H) x G*H]
    std::vector<T> bias;                     // bW + bR (GRU's n gate: bW alone; see rnn_cells.h)
    Bf16Weight wrt16;                        // bf16: RNN and LSTM: [W^T; R^T]
    Bf16Weight wt16, rt16;                   // bf16: GRU: W^T, R^T apart
    Bf16Weight w16, r16;                     // bf16: W, R as they are
  };
  // One lane's scratch and partial sums.
  struct Lane {
    // The lane's rows of a step, contiguous (row i is batch row j + i L): strided rows would
    // put every row of a product in the same few cache sets.
    std::vector<T> gi;                 // [rows x G*H] x W^T (RNN, LSTM: + h_prev R^T)
    std::vector<T> gr;                 // [rows x G*H] GRU: h_prev R^T
    std::vector<T> hp;                 // [rows x H] GRU: h_prev
    std::vector<T> xh;                 // [rows x (I + H)] RNN, LSTM: x and h_prev side by side
    std::vector<T> act;                // [G*H + H] a row's activations (and GRU's hn, LSTM's
                                       // tanh(c)) before they are streamed to the store
    std::vector<T> dg_row;             // [2 x G*H] bf16 backward: a row's gate gradients
                                       // (input, recurrent side) before they are rounded
    std::vector<T> dh, dc;             // [rows x H] backward: gradients of h (and LSTM's c)
    std::vector<T> bias_in, bias_rec;  // [G*H] bias-gradient sums over the lane's rows
    std::vector<T> dwt, drt;           // [I x G*H], [H x G*H] dW^T, dR^T over the lane's rows
    // The backward chunk: rows in the order the lane produced them.
    std::vector<T> gx, grec;           // [chunk x G*H] gate gradients (input / recurrent side)
    std::vector<const T*> xs, hs;      // [chunk] each chunk row's input and entering state
    std::vector<T> xg, hg;             // [chunk x I], [chunk x H] the same, gathered
    std::vector<T> dxs;                // [chunk x I] input gradients before they are scattered
    std::vector<size_t> tokens;        // [chunk] token row of each chunk row
    std::vector<Bf16> gx16, grec16;    // bf16: the gate gradients as product operands
    std::vector<Bf16> xg16, hg16;      // bf16: xg, hg (gathered as bf16 instead)
    std::unique_ptr<Bf16Matmul> bf16;
  };

  RnnShape shape;
  float dropout = 0.0f;
  CpuRnnOptions options;
  std::vector<LayerStore> layers;
  std::vector<DirWeights> weights_t;  // per (layer, direction)
  std::vector<Lane> lanes;

  // The last forward.
  std::vector<int> batch_sizes;
  std::vector<size_t> row_start;  // first row of each step
  size_t tokens = 0;
  int batch = 0;
  const T* x = nullptr;
  const T* y = nullptr;
  std::vector<T> zero_row;  // [G*H] zeros: the state entering a sequence's first step, or gr
  bool have_train_state = false;
  bool dropout_applied = false;

  std::vector<T> dlayer[2];           // [N x dirs*H] gradient between layers

  int lane_count() const { return static_cast<int>(lanes.size()); }
  void run(const std::function<void(int)>& fn) {
    if (options.team)
      options.team->run(fn);
    else
      fn(0);
  }

  int gates_hidden() const { return shape.gates() * shape.hidden; }
  const T* layer_input(int l) const {
    if (l == 0) return x;
    return dropout_applied ? layers[l].input.data() : layers[l - 1].out.data();
  }

  const T* layer_output(int l) const { return l + 1 == shape.layers ? y : layers[l].out.data(); }

  // Rows with a previous state at step t, and where that state's step starts.
  int prev_rows(int dir, int t) const {
    const int steps = static_cast<int>(batch_sizes.size());
    if (dir == 0) return t > 0 ? batch_sizes[t] : 0;
    return t + 1 < steps ? batch_sizes[t + 1] : 0;
  }
  size_t prev_start(int dir, int t) const { return dir == 0 ? row_start[t - 1] : row_start[t + 1]; }
  // The state (from the layer's output out) and LSTM cell state entering row b of step t:
  // the sequence's row of the step before in the direction's order, or zeros at its start.
  const T* state_before(const T* out, int dir, int t, int b) const {
    if (b >= prev_rows(dir, t)) return zero_row.data();
    return out + (prev_start(dir, t) + b) * shape.output() + static_cast<size_t>(dir) * shape.hidden;
  }
  const T* cell_before(const DirStore& s, int dir, int t, int b) const {
    if (b >= prev_rows(dir, t)) return zero_row.data();
    return s.cell.data() + (prev_start(dir, t) + b) * shape.hidden;
  }

  // Starts moving into cache the rows that lane j's cells of step t write and later read
  // (forward: the output and LSTM's c) or read (backward: the stored activations, the
  // output gradient dy and the entering states), so that they arrive
  // during the step's products instead of stalling the cells: a step's rows lie far apart,
  // where no hardware prefetcher looks.
  void prefetch_step(const DirStore& s, const T* out, const T* dy, int dir, int t, int j, bool backward) const {
    const int H = shape.hidden, GH = gates_hidden(), ldo = shape.output(), L = lane_count();
    const auto lines = [backward](const T* p, int count) {
      const char* bytes = reinterpret_cast<const char*>(p);
      for (size_t o = 0; o < sizeof(T) * count; o += 64)
        backward ? __builtin_prefetch(bytes + o, 0, 3) : __builtin_prefetch(bytes + o, 1, 3);
    };
    for (int b = j; b < batch_sizes[t]; b += L) {
      const size_t n = row_start[t] + b;
      if (shape.cell == Cell::Lstm) lines(s.cell.data() + n * H, H);
      if (!backward) {  // the rest is streamed
        lines(out + n * ldo + dir * H, H);
        continue;
      }
      lines(s.gates.data() + n * GH, GH);
      if (shape.cell == Cell::Gru) lines(s.hn.data() + n * H, H);
      if (shape.cell == Cell::Lstm) lines(s.tanh_cell.data() + n * H, H);
      if (dy) lines(dy + n * ldo + dir * H, H);
      lines(state_before(out, dir, t, b), H);
      if (shape.cell == Cell::Lstm) lines(cell_before(s, dir, t, b), H);
    }
  }

  // C = A B with B one of the weights (as T, or its bf16 copy in bf16 mode).
  // B is dense: [k x n] with row stride n.
  void mul_weight(Lane& lane, int m, int n, int k, const T* a, int lda, const T* b, const Bf16Weight& b16,
                  float beta, T* c, int ldc) {
    if constexpr (std::is_same_v<T, float>) {
      if (options.bf16) {
        RNNB_ASSERT(b16.k() == k && b16.n() == n);
        return lane.bf16->matmul(m, a, lda, b16, beta, c, ldc);
      }
    }
    matmul(m, n, k, a, lda, b, n, static_cast<T>(beta), c, ldc);
  }
  // The same where bf16 mode has A rounded already: a16, with a's row stride.
  void mul_weight(Lane& lane, int m, int n, int k, const T* a, const Bf16* a16, int lda, const T* b,
                  const Bf16Weight& b16, float beta, T* c, int ldc) {
    if constexpr (std::is_same_v<T, float>) {
      if (options.bf16) {
        RNNB_ASSERT(a16 && b16.k() == k && b16.n() == n);
        return lane.bf16->matmul(m, a16, lda, b16, beta, c, ldc);
      }
    }
    matmul(m, n, k, a, lda, b, n, static_cast<T>(beta), c, ldc);
  }
  // C[m x n] += A^T B, A [k x m] a chunk's rows and B [k x n] its gate gradients (as T, or
  // their bf16 copies in bf16 mode); all dense.
  void add_gradient_product(Lane& lane, int m, int n, int k, const T* a, const Bf16* a16, const T* b,
                            const Bf16* b16, T* c) {
    if constexpr (std::is_same_v<T, float>) {
      if (options.bf16) return lane.bf16->matmul_at(m, n, k, a16, m, b16, n, 1.0f, c, n);
    }
    matmul_at(m, n, k, a, m, b, n, T(1), c, n);
  }

  void prepare_weights(const T* weights);
  void run_direction(int l, int d, const T* weights, T* out, T* hy, T* cy);
  void backward_direction(int l, int d, const T* weights, const T* dy, const T* dhy, const T* dcy, T* dx,
                          T* dweights);
  void flush_chunk(Lane& lane, int rows, int I, const T* W, const DirWeights& w, bool gru, bool dx_add, T* dx);
};

template <typename T>
void CpuRnn<T>::Impl::prepare_weights(const T* weights) {
  const int GH = gates_hidden(), H = shape.hidden;
  for (int l = 0; l < shape.layers; ++l)
    for (int d = 0; d < shape.dirs; ++d) {
      const int I = shape.layer_input(l);
      const T* block = weights + shape.block_offset(l, d);
      DirWeights& w = weights_t[l * shape.dirs + d];
      w.wrt.resize(static_cast<size_t>(I + H) * GH);
      transpose(block + shape.w_offset(l), GH, I, I, w.wrt.data());
      transpose(block + shape.r_offset(l), GH, H, H, w.wrt.data() + static_cast<size_t>(I) * GH);
      const T* bW = block + shape.bw_offset(l);
      const T* bR = block + shape.br_offset(l);
      const int summed = shape.cell == Cell::Gru ? 2 * H : GH;
      w.bias.assign(bW, bW + GH);
      for (int i = 0; i < summed; ++i) w.bias[i] += bR[i];
      if constexpr (std::is_same_v<T, float>) {
        if (options.bf16) {
          if (shape.cell == Cell::Gru) {
            w.wt16.set(w.wrt.data(), I, GH);
            w.rt16.set(w.wrt.data() + static_cast<size_t>(I) * GH, H, GH);
          } else {
            w.wrt16.set(w.wrt.data(), I + H, GH);
          }
          w.w16.set(block + shape.w_offset(l), GH, I);
          w.r16.set(block + shape.r_offset(l), GH, H);
        }
      }
    }
}

template <typename T>
void CpuRnn<T>::Impl::run_direction(int l, int d, const T* weights, T* out, T* hy, T* cy) {
  const int H = shape.hidden;
  const int GH = gates_hidden();
  const int I = shape.layer_input(l);
  const int ldo = shape.output();
  const int steps = static_cast<int>(batch_sizes.size());
  const T* block = weights + shape.block_offset(l, d);
  const T* bR = block + shape.br_offset(l);
  const DirWeights& w = weights_t[l * shape.dirs + d];
  DirStore& s = layers[l].dir[d];
  const size_t N = tokens;
  const Cell cell = shape.cell;
  const int L = lane_count();
  const bool merged = cell != Cell::Gru;
  const int IH = I + H;

  grow(s.gates, N * GH);
  if (cell == Cell::Gru) grow(s.hn, N * H);
  if (cell == Cell::Lstm) {
    grow(s.cell, N * H);
    grow(s.tanh_cell, N * H);
  }
  const T* input = layer_input(l);

  T* hy_block = hy ? hy + static_cast<size_t>(l * shape.dirs + d) * batch * H : nullptr;
  T* cy_block = cy ? cy + static_cast<size_t>(l * shape.dirs + d) * batch * H : nullptr;

  run([&](int j) {
    Lane& lane = lanes[j];
    for (int k = 0; k < steps; ++k) {
      const int t = d == 0 ? k : steps - 1 - k;
      const int rows = batch_sizes[t];
      const int mine = lane_rows(rows, j, L);
      if (mine == 0) continue;
      const size_t n0 = row_start[t];
      const int with_state = prev_rows(d, t);
      const int mine_with_state = lane_rows(with_state, j, L);

      // The step's input projection x W^T and recurrent product h_prev R^T into the lane's
      // scratch, where the cells read them while they are in cache (projecting every token at
      // once streams the whole [N x G*H] result through memory twice).
      prefetch_step(s, out, nullptr, d, t, j, false);
      if (merged) {
        // RNN and LSTM only need their sum: one product of the rows [x | h_prev] (zeros for
        // rows that start here) and [W^T; R^T].
        for (int i = 0, b = j; i < mine; ++i, b += L) {
          T* row = lane.xh.data() + static_cast<size_t>(i) * IH;
          std::memcpy(row, input + (n0 + b) * I, sizeof(T) * I);
          std::memcpy(row + I, state_before(out, d, t, b), sizeof(T) * H);
        }
        mul_weight(lane, mine, GH, IH, lane.xh.data(), IH, w.wrt.data(), w.wrt16, 0.0f, lane.gi.data(), GH);
      } else {
        // GRU's n gate needs the two apart. The rows that start here have no h_prev: the
        // product leaves them out.
        for (int i = 0, b = j; i < mine_with_state; ++i, b += L)
          std::memcpy(lane.hp.data() + static_cast<size_t>(i) * H, state_before(out, d, t, b), sizeof(T) * H);
        mul_weight(lane, mine, GH, I, input + (n0 + j) * I, L * I, w.wrt.data(), w.wt16, 0.0f, lane.gi.data(), GH);
        mul_weight(lane, mine_with_state, GH, H, lane.hp.data(), H, w.wrt.data() + static_cast<size_t>(I) * GH,
                   w.rt16, 0.0f, lane.gr.data(), GH);
        std::fill(lane.gr.data() + static_cast<size_t>(mine_with_state) * GH,
                  lane.gr.data() + static_cast<size_t>(mine) * GH, T(0));
      }

      for (int i = 0, b = j; i < mine; ++i, b += L) {
        const T* gi = lane.gi.data() + static_cast<size_t>(i) * GH;
        const T* gr = merged ? zero_row.data() : lane.gr.data() + static_cast<size_t>(i) * GH;
        const size_t n = n0 + b;
        // The cell writes the row's activations into the lane's act (in L1), and from there
        // they are streamed to the store.
        T* act = lane.act.data();
        T* h_out = out + n * ldo + d * H;
        switch (cell) {
          case Cell::RnnTanh:
          case Cell::RnnRelu:
            rnn_cells::rnn_forward(H, cell == Cell::RnnRelu, gi, gr, w.bias.data(), act, h_out);
            break;
          case Cell::Gru: {
            const T* hp = i < mine_with_state ? lane.hp.data() + static_cast<size_t>(i) * H : zero_row.data();
            rnn_cells::gru_forward(H, gi, gr, w.bias.data(), bR, hp, act, act + GH, h_out);
            stream_copy(s.hn.data() + n * H, act + GH, sizeof(T) * H);
            break;
          }
          case Cell::Lstm:
            rnn_cells::lstm_forward(H, gi, gr, w.bias.data(), cell_before(s, d, t, b), act, s.cell.data() + n * H,
                                    act + GH, h_out);
            stream_copy(s.tanh_cell.data() + n * H, act + GH, sizeof(T) * H);
            break;
        }
        stream_copy(s.gates.data() + n * GH, act, sizeof(T) * GH);
      }

      // Final states: forward, the sequences whose last token is at t; reverse, all at t = 0.
      const int ending_from = d == 0 ? (t + 1 < steps ? batch_sizes[t + 1] : 0) : (t == 0 ? 0 : rows);
      for (int b = j; b < rows; b += L) {
        if (b < ending_from) continue;
        const size_t n = n0 + b;
        if (hy_block) std::memcpy(hy_block + static_cast<size_t>(b) * H, out + n * ldo + d * H, sizeof(T) * H);
        if (cy_block && cell == Cell::Lstm)
          std::memcpy(cy_block + static_cast<size_t>(b) * H, s.cell.data() + n * H, sizeof(T) * H);
      }
    }
    stream_fence();  // the streamed rows are complete before backward, on any thread, reads them
  });
}

// The weight and input gradients of a lane's chunk: bias sums, dW^T += X^T dGx,
// dR^T += H_prev^T dGr, and dX = dGx W scattered to the chunk's token rows.
template <typename T>
void CpuRnn<T>::Impl::flush_chunk(Lane& lane, int rows, int I, const T* W, const DirWeights& w, bool gru,
                                  bool dx_add, T* dx) {
  if (rows == 0) return;
  const int H = shape.hidden, GH = gates_hidden();
  const T* gr = gru ? lane.grec.data() : lane.gx.data();
  if (!options.bf16) {  // bf16: the steps took the bias sums
    rnn_cells::add_row_sums(rows, GH, lane.gx.data(), lane.bias_in.data());
    if (gru) rnn_cells::add_row_sums(rows, GH, gr, lane.bias_rec.data());
  }
  // The chunk's inputs and entering states as rows, which the products read transposed.
  // bf16: gathered as bf16; the steps left only the gate gradients' bf16 copies.
  const Bf16* gx16 = nullptr;
  const Bf16* gr16 = nullptr;
  const Bf16* xg16 = nullptr;
  const Bf16* hg16 = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    if (options.bf16) {
      for (int r = 0; r < rows; ++r) {
        to_bf16(lane.xs[r], I, lane.xg16.data() + static_cast<size_t>(r) * I);
        to_bf16(lane.hs[r], H, lane.hg16.data() + static_cast<size_t>(r) * H);
      }
      gx16 = lane.gx16.data();
      gr16 = gru ? lane.grec16.data() : gx16;
      xg16 = lane.xg16.data();
      hg16 = lane.hg16.data();
    }
  }
  if (!xg16)
    for (int r = 0; r < rows; ++r) {
      std::memcpy(lane.xg.data() + static_cast<size_t>(r) * I, lane.xs[r], sizeof(T) * I);
      std::memcpy(lane.hg.data() + static_cast<size_t>(r) * H, lane.hs[r], sizeof(T) * H);
    }
  add_gradient_product(lane, I, GH, rows, lane.xg.data(), xg16, lane.gx.data(), gx16, lane.dwt.data());
  add_gradient_product(lane, H, GH, rows, lane.hg.data(), hg16, gr, gr16, lane.drt.data());
  if (!dx) return;
  mul_weight(lane, rows, I, GH, lane.gx.data(), gx16, GH, W, w.w16, 0.0f, lane.dxs.data(), I);
  for (int r = 0; r < rows; ++r) {
    T* dst = dx + lane.tokens[r] * I;
    const T* src = lane.dxs.data() + static_cast<size_t>(r) * I;
    if (dx_add)
      for (int i = 0; i < I; ++i) dst[i] += src[i];
    else
      std::memcpy(dst, src, sizeof(T) * I);
  }
}

template <typename T>
void CpuRnn<T>::Impl::backward_direction(int l, int d, const T* weights, const T* dy, const T* dhy, const T* dcy,
                                         T* dx, T* dweights) {
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
  const DirWeights& w = weights_t[l * shape.dirs + d];
  const DirStore& s = layers[l].dir[d];
  const Cell cell = shape.cell;
  const bool gru = cell == Cell::Gru;
  const int L = lane_count();
  const T* input = layer_input(l);
  const T* out = layer_output(l);

  const size_t block = static_cast<size_t>(l * shape.dirs + d) * batch * H;

  run([&](int j) {
    Lane& lane = lanes[j];
    // The final-state gradients of the lane's sequences.
    for (int i = 0, b = j; b < batch; ++i, b += L) {
      T* dh = lane.dh.data() + static_cast<size_t>(i) * H;
      T* dc = lane.dc.data() + static_cast<size_t>(i) * H;
      const size_t src = block + static_cast<size_t>(b) * H;
      if (dhy)
        std::memcpy(dh, dhy + src, sizeof(T) * H);
      else
        std::fill(dh, dh + H, T(0));
      if (cell != Cell::Lstm) continue;
      if (dcy)
        std::memcpy(dc, dcy + src, sizeof(T) * H);
      else
        std::fill(dc, dc + H, T(0));
    }
    lane.bias_in.assign(GH, T(0));
    lane.bias_rec.assign(GH, T(0));
    lane.dwt.assign(static_cast<size_t>(I) * GH, T(0));
    lane.drt.assign(static_cast<size_t>(H) * GH, T(0));
    // A step's rows never straddle chunks, so a chunk holds at least the lane's widest step.
    const int chunk_rows = std::max(options.bf16 ? kChunkRowsBf16 : kChunkRows, lane_rows(batch, j, L));
    const size_t chunk = chunk_rows;
    // The chunk's gate gradients: fp32 rows, or in bf16 mode only their bf16 copies (the
    // products' operands). The recurrent side equals the input side except for GRU's n gate.
    const bool bf16 = options.bf16;
    T* chunk_gr = nullptr;
    Bf16* chunk_gr16 = nullptr;
    grow(lane.dxs, chunk * I);
    if (bf16) {
      grow(lane.dg_row, 2 * static_cast<size_t>(GH));
      grow(lane.gx16, chunk * GH);
      if (gru) grow(lane.grec16, chunk * GH);
      grow(lane.xg16, chunk * I);
      grow(lane.hg16, chunk * H);
      chunk_gr16 = gru ? lane.grec16.data() : lane.gx16.data();
    } else {
      grow(lane.gx, chunk * GH);
      if (gru) grow(lane.grec, chunk * GH);
      grow(lane.xg, chunk * I);
      grow(lane.hg, chunk * H);
      chunk_gr = gru ? lane.grec.data() : lane.gx.data();
    }
    lane.xs.resize(chunk);
    lane.hs.resize(chunk);
    lane.tokens.resize(chunk);
    int used = 0;
    for (int k = 0; k < steps; ++k) {
      const int t = d == 0 ? steps - 1 - k : k;  // the reverse of the forward order
      const int rows = batch_sizes[t];
      const int mine = lane_rows(rows, j, L);
      if (mine == 0) continue;
      if (used + mine > chunk_rows) {
        flush_chunk(lane, used, I, W, w, gru, d == 1, dx);
        used = 0;
      }
      const size_t n0 = row_start[t];
      for (int i = 0, b = j; i < mine; ++i, b += L) {
        T* dh = lane.dh.data() + static_cast<size_t>(i) * H;
        const size_t n = n0 + b;
        if (dy) {
          const T* src = dy + n * ldo + d * H;
          for (int e = 0; e < H; ++e) dh[e] += src[e];
        }
        const size_t row = static_cast<size_t>(used + i);
        const T* gates = s.gates.data() + n * GH;
        const T* hp = state_before(out, d, t, b);
        // bf16: the cell writes the row into dg_row (in L1), whence it is summed into the bias
        // gradients and rounded into the chunk; fp32 chunk rows would be written and read
        // back only for that.
        T* gx = bf16 ? lane.dg_row.data() : lane.gx.data() + row * GH;
        T* gr = !gru ? gx : bf16 ? gx + GH : chunk_gr + row * GH;
        switch (cell) {
          case Cell::RnnTanh:
          case Cell::RnnRelu:
            rnn_cells::rnn_backward(H, cell == Cell::RnnRelu, gates, dh, gx);
            break;
          case Cell::Gru:
            rnn_cells::gru_backward(H, gates, s.hn.data() + n * H, hp, dh, gx, gr);
            break;
          case Cell::Lstm:
            rnn_cells::lstm_backward(H, gates, cell_before(s, d, t, b), s.tanh_cell.data() + n * H, dh,
                                     lane.dc.data() + static_cast<size_t>(i) * H, gx);
            break;
        }
        if constexpr (std::is_same_v<T, float>) {
          if (bf16) {
            rnn_cells::add_row_sums(1, GH, gx, lane.bias_in.data());
            to_bf16(gx, GH, lane.gx16.data() + row * GH);
            if (gru) {
              rnn_cells::add_row_sums(1, GH, gr, lane.bias_rec.data());
              to_bf16(gr, GH, lane.grec16.data() + row * GH);
            }
          }
        }
        lane.xs[row] = input + n * I;
        lane.hs[row] = hp;
        lane.tokens[row] = n;
      }
      // dh_prev = dGr R (+ z * dh for GRU, left in dh by the cell), for this lane's rows
      // that have a previous state: the first ones, as rows only end going backwards.
      const int with_prev = lane_rows(prev_rows(d, t), j, L);
      const size_t first = static_cast<size_t>(used) * GH;
      if (k + 1 < steps) prefetch_step(s, out, dy, d, d == 0 ? t - 1 : t + 1, j, true);
      mul_weight(lane, with_prev, H, GH, bf16 ? nullptr : chunk_gr + first, bf16 ? chunk_gr16 + first : nullptr, GH,
                 R, w.r16, gru ? 1.0f : 0.0f, lane.dh.data(), H);
      used += mine;
    }
    flush_chunk(lane, used, I, W, w, gru, d == 1, dx);
  });

  // The lanes' sums, transposed back: lane j adds every lane's rows [g0, g1) of dW and dR.
  run([&](int j) {
    int64_t g0, g1;
    ThreadTeam::split(GH, j, L, &g0, &g1);
    for (const Lane& lane : lanes) {
      for (int64_t g = g0; g < g1; ++g) {
        T* dw = dW + g * I;
        T* dr = dR + g * H;
        for (int i = 0; i < I; ++i) dw[i] += lane.dwt[static_cast<size_t>(i) * GH + g];
        for (int i = 0; i < H; ++i) dr[i] += lane.drt[static_cast<size_t>(i) * GH + g];
        dbW[g] += lane.bias_in[g];
        dbR[g] += gru ? lane.bias_rec[g] : lane.bias_in[g];
      }
    }
  });
}

template <typename T>
CpuRnn<T>::CpuRnn(const RnnShape& shape, float dropout, CpuRnnOptions options) : impl_(std::make_unique<Impl>()) {
  if (shape.input <= 0 || shape.hidden <= 0 || shape.layers < 1)
    fail("rnn: input size, hidden size and layer count must be positive");
  if (shape.dirs != 1 && shape.dirs != 2) fail("rnn: directions must be 1 or 2");
  if (!(dropout >= 0.0f && dropout < 1.0f))
    fail("rnn: dropout must be in [0, 1), got " + std::to_string(dropout));
  if (options.bf16 && !std::is_same_v<T, float>) fail("rnn: bf16 products are for the float stack only");
  if (options.bf16 && !bf16_matmul_available()) fail(bf16_unavailable_reason());
  impl_->shape = shape;
  impl_->dropout = dropout;
  impl_->options = options;
  impl_->layers.resize(shape.layers);
  impl_->weights_t.resize(static_cast<size_t>(shape.layers) * shape.dirs);
  impl_->lanes.resize(options.team ? options.team->size() : 1);
  if (impl_->lanes.size() > 1) use_single_threaded_libraries();  // the lanes are the threads
  if (options.bf16)
    for (auto& lane : impl_->lanes) lane.bf16 = std::make_unique<Bf16Matmul>();
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
  const FlushDenormals flush;

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
  m.y = y;
  m.dropout_applied = use_dropout;

  const int H = shape.hidden;
  const size_t width = static_cast<size_t>(shape.output());
  m.zero_row.assign(static_cast<size_t>(shape.gates()) * H, T(0));  // a state, or GRU-less cells' gr
  const size_t lane_batch = static_cast<size_t>(m.batch + m.lane_count() - 1) / m.lane_count();
  int widest_input = 0;
  for (int l = 0; l < shape.layers; ++l) widest_input = std::max(widest_input, shape.layer_input(l));
  for (auto& lane : m.lanes) {
    grow(lane.gi, lane_batch * shape.gates() * H);
    for (std::vector<T>* v : {&lane.dh, &lane.dc}) grow(*v, lane_batch * H);
    grow(lane.act, static_cast<size_t>(shape.gates() + 1) * H);
    if (shape.cell == Cell::Gru) {
      grow(lane.gr, lane_batch * shape.gates() * H);
      grow(lane.hp, lane_batch * H);
    } else {
      grow(lane.xh, lane_batch * (widest_input + H));
    }
  }
  m.prepare_weights(weights);

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
  const FlushDenormals flush;
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

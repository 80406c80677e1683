// Elementwise parts of one time step of each recurrent cell, forward and backward, for one
// row (one sequence at that step). The matrix products around them are done by the caller;
// these loops see pre-activations and produce gradients of pre-activations. Gate order and
// equations are cuDNN's (see cpu/rnn_cpu.h). restrict lets the compiler vectorise them.
#pragma once

#include <cstddef>

#include "cpu/rnn_math.h"

namespace rnnb::rnn_cells {

// ---- forward --------------------------------------------------------------------------
// gi: x W^T of the row (G*H). gr: h_prev R^T of the row (G*H), zero for a row without a
// previous state. b: bW + bR (G*H). gates: out, the activated gates (rnn: h).

template <typename T>
void rnn_forward(int H, bool relu, const T* __restrict gi, const T* __restrict gr, const T* __restrict b,
                 T* __restrict gates, T* __restrict h) {
  for (int j = 0; j < H; ++j) gates[j] = gi[j] + gr[j] + b[j];
  if (relu) {
    for (int j = 0; j < H; ++j) gates[j] = gates[j] > T(0) ? gates[j] : T(0);
  } else {
    rnn_math::tanh_inplace(gates, H);
  }
  for (int j = 0; j < H; ++j) h[j] = gates[j];
}

// GRU's biases: bx = bW + bR for r and z, bW for n; br = bR (only n's part is read: it
// sits inside r's product). hn: Rh h + bRh (kept for backward); hp: the previous state.
template <typename T>
void gru_forward(int H, const T* __restrict gi, const T* __restrict gr, const T* __restrict bx,
                 const T* __restrict br, const T* __restrict hp, T* __restrict gates, T* __restrict hn,
                 T* __restrict h) {
  T* r = gates;
  T* z = r + H;
  T* n = z + H;
  for (int j = 0; j < 2 * H; ++j) r[j] = gi[j] + gr[j] + bx[j];  // r and z together
  rnn_math::sigmoid_inplace(r, 2 * H);
  for (int j = 0; j < H; ++j) {
    hn[j] = gr[2 * H + j] + br[2 * H + j];
    n[j] = gi[2 * H + j] + bx[2 * H + j] + r[j] * hn[j];
  }
  rnn_math::tanh_inplace(n, H);
  for (int j = 0; j < H; ++j) h[j] = n[j] + z[j] * (hp[j] - n[j]);
}

// cp: the previous cell state; c, tc: this step's c and tanh(c).
template <typename T>
void lstm_forward(int H, const T* __restrict gi, const T* __restrict gr, const T* __restrict b,
                  const T* __restrict cp, T* __restrict gates, T* __restrict c, T* __restrict tc, T* __restrict h) {
  T* i = gates;
  T* f = i + H;
  T* g = f + H;
  T* o = g + H;
  for (int j = 0; j < 4 * H; ++j) i[j] = gi[j] + gr[j] + b[j];
  rnn_math::sigmoid_inplace(i, 2 * H);  // i and f
  rnn_math::tanh_inplace(g, H);
  rnn_math::sigmoid_inplace(o, H);
  for (int j = 0; j < H; ++j) tc[j] = c[j] = f[j] * cp[j] + i[j] * g[j];
  rnn_math::tanh_inplace(tc, H);
  for (int j = 0; j < H; ++j) h[j] = o[j] * tc[j];
}

// ---- backward -------------------------------------------------------------------------
// dh: on entry the gradient of the row's output state h (summed from the output, the next
// step and the final state); on exit the part of dh_prev that does not go through R (GRU:
// z * dh; others: untouched, the caller overwrites it). dgx / dgr: gradients of the
// pre-activations on the input / recurrent side (G*H).

template <typename T>
void rnn_backward(int H, bool relu, const T* __restrict h, const T* __restrict dh, T* __restrict dg) {
  if (relu) {
    for (int j = 0; j < H; ++j) dg[j] = h[j] > T(0) ? dh[j] : T(0);
  } else {
    for (int j = 0; j < H; ++j) dg[j] = dh[j] * (T(1) - h[j] * h[j]);
  }
}

template <typename T>
void gru_backward(int H, const T* __restrict gates, const T* __restrict hn, const T* __restrict hp,
                  T* __restrict d, T* __restrict dgx, T* __restrict dgr) {
  const T* r = gates;
  const T* z = r + H;
  const T* n = z + H;
  for (int j = 0; j < H; ++j) {
    const T dn = d[j] * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
    const T dz = d[j] * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);
    const T dr = dn * hn[j] * r[j] * (T(1) - r[j]);
    dgx[j] = dr;
    dgr[j] = dr;
    dgx[H + j] = dz;
    dgr[H + j] = dz;
    dgx[2 * H + j] = dn;
    dgr[2 * H + j] = dn * r[j];
    d[j] *= z[j];
  }
}

// dc: on entry the gradient of the row's cell state c from the next step (or the final
// state); on exit the gradient of c_prev. cp, tc: c_prev and tanh(c).
template <typename T>
void lstm_backward(int H, const T* __restrict gates, const T* __restrict cp, const T* __restrict tc,
                   const T* __restrict d, T* __restrict dc, T* __restrict dg) {
  const T* i = gates;
  const T* f = i + H;
  const T* g = f + H;
  const T* o = g + H;
  for (int j = 0; j < H; ++j) {
    const T dct = dc[j] + d[j] * o[j] * (T(1) - tc[j] * tc[j]);
    dg[3 * H + j] = d[j] * tc[j] * o[j] * (T(1) - o[j]);
    dg[j] = dct * g[j] * i[j] * (T(1) - i[j]);
    dg[H + j] = dct * cp[j] * f[j] * (T(1) - f[j]);
    dg[2 * H + j] = dct * i[j] * (T(1) - g[j] * g[j]);
    dc[j] = dct * f[j];
  }
}

// ---- bias gradients -------------------------------------------------------------------
// sum[j] += rows[r * n + j] over count rows.
template <typename T>
void add_row_sums(int count, int n, const T* __restrict rows, T* __restrict sum) {
  for (int r = 0; r < count; ++r)
    for (int j = 0; j < n; ++j) sum[j] += rows[static_cast<size_t>(r) * n + j];
}

}  // namespace rnnb::rnn_cells

// Float versions built for several instruction sets and picked at load time (rnn_cells.cpp);
// as non-templates they take precedence over the templates above for float.
namespace rnnb::rnn_cells {
void rnn_forward(int H, bool relu, const float* gi, const float* gr, const float* b, float* gates, float* h);
void gru_forward(int H, const float* gi, const float* gr, const float* bx, const float* br, const float* hp,
                 float* gates, float* hn, float* h);
void lstm_forward(int H, const float* gi, const float* gr, const float* b, const float* cp, float* gates, float* c,
                  float* tc, float* h);
void rnn_backward(int H, bool relu, const float* h, const float* dh, float* dg);
void gru_backward(int H, const float* gates, const float* hn, const float* hp, float* d, float* dgx, float* dgr);
void lstm_backward(int H, const float* gates, const float* cp, const float* tc, const float* d, float* dc,
                   float* dg);
void add_row_sums(int count, int n, const float* rows, float* sum);
}  // namespace rnnb::rnn_cells

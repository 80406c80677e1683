// Elementwise parts of one time step of each recurrent cell, forward and backward, for a
// block of rows (the sequences active at that step). The matrix products around them are
// done by the caller with BLAS; these loops see pre-activations and produce gradients of
// pre-activations. Gate order and equations are cuDNN's (see cpu/rnn_cpu.h).
#pragma once

#include <cstddef>

#include "cpu/rnn_math.h"

namespace rnnb::rnn_cells {

// Row pointers of one step. gx: x W^T + bW per row (G*H); gr: h_prev R^T per row (G*H),
// all zero for rows without a previous state; br: recurrent bias (G*H).
template <typename T>
struct StepIn {
  int rows = 0;
  int hidden = 0;
  const T* gr = nullptr;  // [rows x G*H]
  const T* br = nullptr;  // [G*H]
};

// ---- forward --------------------------------------------------------------------------
// gates (in: gx, out: activated gates, [rows x G*H]); h_out row stride ldh.

template <typename T>
void rnn_forward(const StepIn<T>& in, bool relu, T* gates, T* h_out, int ldh) {
  const int H = in.hidden;
  for (int b = 0; b < in.rows; ++b) {
    T* g = gates + static_cast<size_t>(b) * H;
    const T* gr = in.gr + static_cast<size_t>(b) * H;
    T* h = h_out + static_cast<size_t>(b) * ldh;
    for (int j = 0; j < H; ++j) g[j] += gr[j] + in.br[j];
    if (relu) {
      for (int j = 0; j < H; ++j) g[j] = g[j] > T(0) ? g[j] : T(0);
    } else {
      rnn_math::tanh_inplace(g, H);
    }
    for (int j = 0; j < H; ++j) h[j] = g[j];
  }
}

// hn_out: Rh h + bRh per row (kept for backward). hprev: [rows x H].
template <typename T>
void gru_forward(const StepIn<T>& in, const T* hprev, T* gates, T* hn_out, T* h_out, int ldh) {
  const int H = in.hidden;
  const size_t gh = static_cast<size_t>(3) * H;
  for (int b = 0; b < in.rows; ++b) {
    T* r = gates + b * gh;
    T* z = r + H;
    T* n = z + H;
    const T* gr = in.gr + b * gh;
    const T* hp = hprev + static_cast<size_t>(b) * H;
    T* hn = hn_out + static_cast<size_t>(b) * H;
    T* h = h_out + static_cast<size_t>(b) * ldh;
    for (int j = 0; j < 2 * H; ++j) r[j] += gr[j] + in.br[j];  // r and z together
    rnn_math::sigmoid_inplace(r, 2 * H);
    for (int j = 0; j < H; ++j) {
      hn[j] = gr[2 * H + j] + in.br[2 * H + j];
      n[j] += r[j] * hn[j];
    }
    rnn_math::tanh_inplace(n, H);
    for (int j = 0; j < H; ++j) h[j] = n[j] + z[j] * (hp[j] - n[j]);
  }
}

// cprev: [rows x H]; c_out, tanh_c_out: [rows x H].
template <typename T>
void lstm_forward(const StepIn<T>& in, const T* cprev, T* gates, T* c_out, T* tanh_c_out,
                  T* h_out, int ldh) {
  const int H = in.hidden;
  const size_t gh = static_cast<size_t>(4) * H;
  for (int b = 0; b < in.rows; ++b) {
    T* i = gates + b * gh;
    T* f = i + H;
    T* g = f + H;
    T* o = g + H;
    const T* gr = in.gr + b * gh;
    for (size_t j = 0; j < gh; ++j) i[j] += gr[j] + in.br[j];
    rnn_math::sigmoid_inplace(i, 2 * H);  // i and f
    rnn_math::tanh_inplace(g, H);
    rnn_math::sigmoid_inplace(o, H);
    const T* cp = cprev + static_cast<size_t>(b) * H;
    T* c = c_out + static_cast<size_t>(b) * H;
    T* tc = tanh_c_out + static_cast<size_t>(b) * H;
    T* h = h_out + static_cast<size_t>(b) * ldh;
    for (int j = 0; j < H; ++j) tc[j] = c[j] = f[j] * cp[j] + i[j] * g[j];
    rnn_math::tanh_inplace(tc, H);
    for (int j = 0; j < H; ++j) h[j] = o[j] * tc[j];
  }
}

// ---- backward -------------------------------------------------------------------------
// dh: [rows x H], on entry the gradient of each row's output state h (already summed from
// the output, the next step and the final state); on exit the part of dh_prev that does
// not go through R (GRU: z * dh; others: untouched, the caller overwrites it).
// dgx / dgr: gradients of the pre-activations on the input / recurrent side (G*H per row).

template <typename T>
void rnn_backward(int rows, int H, bool relu, const T* gates, const T* dh, T* dg) {
  for (int b = 0; b < rows; ++b) {
    const T* h = gates + static_cast<size_t>(b) * H;
    const T* d = dh + static_cast<size_t>(b) * H;
    T* o = dg + static_cast<size_t>(b) * H;
    if (relu) {
      for (int j = 0; j < H; ++j) o[j] = h[j] > T(0) ? d[j] : T(0);
    } else {
      for (int j = 0; j < H; ++j) o[j] = d[j] * (T(1) - h[j] * h[j]);
    }
  }
}

// One row of gru_backward; restrict lets the compiler vectorise the loop.
template <typename T>
void gru_backward_row(int H, const T* __restrict r, const T* __restrict z, const T* __restrict n,
                      const T* __restrict hn, const T* __restrict hp, T* __restrict d,
                      T* __restrict xr, T* __restrict xz, T* __restrict xn, T* __restrict rr,
                      T* __restrict rz, T* __restrict rn) {
  for (int j = 0; j < H; ++j) {
    const T dn = d[j] * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
    const T dz = d[j] * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);
    const T dr = dn * hn[j] * r[j] * (T(1) - r[j]);
    xr[j] = dr;
    rr[j] = dr;
    xz[j] = dz;
    rz[j] = dz;
    xn[j] = dn;
    rn[j] = dn * r[j];
    d[j] *= z[j];
  }
}

template <typename T>
void gru_backward(int rows, int H, const T* gates, const T* hn, const T* hprev, T* dh, T* dgx,
                  T* dgr) {
  const size_t gh = static_cast<size_t>(3) * H;
  for (int b = 0; b < rows; ++b) {
    const T* r = gates + b * gh;
    T* xr = dgx + b * gh;
    T* rr = dgr + b * gh;
    const size_t row = static_cast<size_t>(b) * H;
    gru_backward_row(H, r, r + H, r + 2 * H, hn + row, hprev + row, dh + row, xr, xr + H,
                     xr + 2 * H, rr, rr + H, rr + 2 * H);
  }
}

// dc: [rows x H], on entry the gradient of each row's cell state c from the next step (or
// the final state); on exit the gradient of c_prev.
// One row of lstm_backward; restrict lets the compiler vectorise the loop.
template <typename T>
void lstm_backward_row(int H, const T* __restrict i, const T* __restrict f,
                       const T* __restrict g, const T* __restrict o, const T* __restrict cp,
                       const T* __restrict tc, const T* __restrict d, T* __restrict c,
                       T* __restrict di, T* __restrict df, T* __restrict dg, T* __restrict dout) {
  for (int j = 0; j < H; ++j) {
    const T dct = c[j] + d[j] * o[j] * (T(1) - tc[j] * tc[j]);
    dout[j] = d[j] * tc[j] * o[j] * (T(1) - o[j]);
    di[j] = dct * g[j] * i[j] * (T(1) - i[j]);
    df[j] = dct * cp[j] * f[j] * (T(1) - f[j]);
    dg[j] = dct * i[j] * (T(1) - g[j] * g[j]);
    c[j] = dct * f[j];
  }
}

template <typename T>
void lstm_backward(int rows, int H, const T* gates, const T* cprev, const T* tanh_c,
                   const T* dh, T* dc, T* dg) {
  const size_t gh = static_cast<size_t>(4) * H;
  for (int b = 0; b < rows; ++b) {
    const T* i = gates + b * gh;
    T* di = dg + b * gh;
    const size_t row = static_cast<size_t>(b) * H;
    lstm_backward_row(H, i, i + H, i + 2 * H, i + 3 * H, cprev + row, tanh_c + row, dh + row,
                      dc + row, di, di + H, di + 2 * H, di + 3 * H);
  }
}

}  // namespace rnnb::rnn_cells

// Float versions built for several instruction sets and picked at load time (rnn_cells.cpp);
// as non-templates they take precedence over the templates above for float.
namespace rnnb::rnn_cells {
void rnn_forward(const StepIn<float>& in, bool relu, float* gates, float* h_out, int ldh);
void gru_forward(const StepIn<float>& in, const float* hprev, float* gates, float* hn_out,
                 float* h_out, int ldh);
void lstm_forward(const StepIn<float>& in, const float* cprev, float* gates, float* c_out,
                  float* tanh_c_out, float* h_out, int ldh);
void rnn_backward(int rows, int H, bool relu, const float* gates, const float* dh, float* dg);
void gru_backward(int rows, int H, const float* gates, const float* hn, const float* hprev,
                  float* dh, float* dgx, float* dgr);
void lstm_backward(int rows, int H, const float* gates, const float* cprev, const float* tanh_c,
                   const float* dh, float* dc, float* dg);
}  // namespace rnnb::rnn_cells

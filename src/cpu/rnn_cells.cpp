// The float cell kernels compiled for AVX-512, AVX2 and baseline x86-64, chosen at load
// time: the elementwise work sits between the recurrent matrix products of every step, so
// wider vectors shorten each time step.
#include "cpu/rnn_cells.h"

#define RNNB_CELL_CLONES RNNB_CPU_CLONES __attribute__((flatten))

namespace rnnb::rnn_cells {

RNNB_CELL_CLONES
void rnn_forward(int H, bool relu, const float* gi, const float* gr, const float* b, float* gates, float* h) {
  rnn_forward<float>(H, relu, gi, gr, b, gates, h);
}

RNNB_CELL_CLONES
void gru_forward(int H, const float* gi, const float* gr, const float* bx, const float* br, const float* hp,
                 float* gates, float* hn, float* h) {
  gru_forward<float>(H, gi, gr, bx, br, hp, gates, hn, h);
}

RNNB_CELL_CLONES
void lstm_forward(int H, const float* gi, const float* gr, const float* b, const float* cp, float* gates, float* c,
                  float* tc, float* h) {
  lstm_forward<float>(H, gi, gr, b, cp, gates, c, tc, h);
}

RNNB_CELL_CLONES
void rnn_backward(int H, bool relu, const float* h, const float* dh, float* dg) {
  rnn_backward<float>(H, relu, h, dh, dg);
}

RNNB_CELL_CLONES
void gru_backward(int H, const float* gates, const float* hn, const float* hp, float* d, float* dgx, float* dgr) {
  gru_backward<float>(H, gates, hn, hp, d, dgx, dgr);
}

RNNB_CELL_CLONES
void lstm_backward(int H, const float* gates, const float* cp, const float* tc, const float* d, float* dc,
                   float* dg) {
  lstm_backward<float>(H, gates, cp, tc, d, dc, dg);
}

RNNB_CELL_CLONES
void add_row_sums(int count, int n, const float* rows, float* sum) { add_row_sums<float>(count, n, rows, sum); }

}  // namespace rnnb::rnn_cells

// The float cell kernels compiled for AVX-512, AVX2 and baseline x86-64, chosen at load
// time: the elementwise work runs on one core between the recurrent matrix products, so
// wider vectors shorten each time step.
#include "cpu/rnn_cells.h"

#define RNNB_CELL_CLONES RNNB_CPU_CLONES __attribute__((flatten))

namespace rnnb::rnn_cells {

RNNB_CELL_CLONES
void rnn_forward(const StepIn<float>& in, bool relu, float* gates, float* h_out, int ldh) {
  rnn_forward<float>(in, relu, gates, h_out, ldh);
}

RNNB_CELL_CLONES
void gru_forward(const StepIn<float>& in, const float* hprev, float* gates, float* hn_out,
                 float* h_out, int ldh) {
  gru_forward<float>(in, hprev, gates, hn_out, h_out, ldh);
}

RNNB_CELL_CLONES
void lstm_forward(const StepIn<float>& in, const float* cprev, float* gates, float* c_out,
                  float* tanh_c_out, float* h_out, int ldh) {
  lstm_forward<float>(in, cprev, gates, c_out, tanh_c_out, h_out, ldh);
}

RNNB_CELL_CLONES
void rnn_backward(int rows, int H, bool relu, const float* gates, const float* dh, float* dg) {
  rnn_backward<float>(rows, H, relu, gates, dh, dg);
}

RNNB_CELL_CLONES
void gru_backward(int rows, int H, const float* gates, const float* hn, const float* hprev,
                  float* dh, float* dgx, float* dgr) {
  gru_backward<float>(rows, H, gates, hn, hprev, dh, dgx, dgr);
}

RNNB_CELL_CLONES
void lstm_backward(int rows, int H, const float* gates, const float* cprev, const float* tanh_c,
                   const float* dh, float* dc, float* dg) {
  lstm_backward<float>(rows, H, gates, cprev, tanh_c, dh, dc, dg);
}

}  // namespace rnnb::rnn_cells

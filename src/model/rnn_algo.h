// The recurrent stack's cuDNN algorithm and math mode as typed choices. CUDA-free, so the
// command line, checkpoints and the CPU backend (which accepts only the defaults) use them
// in any build; cuda/cudnn_rnn.cpp maps them to cuDNN's own enums.
#pragma once

#include "util/name_table.h"

namespace rnnb {

enum class RnnAlgo { Standard, PersistStatic, PersistDynamic, PersistStaticSmallH };
// fp32: strict fp32 FMA; tf32: fp32 data, tensor cores may round to TF32; fp16: half data
// and weights with fp32 accumulation on tensor cores; bf16 (CPU backend only): bf16
// operands in the recurrent stack's products, fp32 accumulation, state and weights.
enum class RnnMath { Fp32, Tf32, Fp16, Bf16 };

inline constexpr auto kRnnAlgoNames = make_name_table<RnnAlgo>("--algo", {
    {RnnAlgo::Standard, "standard", ""},
    {RnnAlgo::PersistStatic, "persist-static", ""},
    {RnnAlgo::PersistDynamic, "persist-dynamic", "planned per batch size"},
    {RnnAlgo::PersistStaticSmallH, "persist-static-small-h", ""},
});
constexpr const auto& names_of(RnnAlgo) { return kRnnAlgoNames; }

inline constexpr auto kRnnMathNames = make_name_table<RnnMath>("--math", {
    {RnnMath::Fp32, "fp32", ""},
    {RnnMath::Tf32, "tf32", "fp32 data, TF32 tensor cores"},
    {RnnMath::Fp16, "fp16", "half data and weights, fp32 accumulation"},
    {RnnMath::Bf16, "bf16", "CPU: bf16 products, fp32 accumulation, state and weights"},
});
constexpr const auto& names_of(RnnMath) { return kRnnMathNames; }

}  // namespace rnnb

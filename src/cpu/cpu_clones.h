// RNNB_CPU_CLONES: builds a function for AVX-512, AVX2 and baseline x86-64 and picks one at
// load time, for the CPU backend's elementwise loops (the build itself targets baseline
// x86-64, so one binary runs everywhere).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#define RNNB_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNNB_CPU_CLONES
#endif

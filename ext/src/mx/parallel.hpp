// Multi-threaded front of the jitq::mx array driver (used by the Python module harness._mx).
#pragma once

#include <cstddef>
#include <cstdint>

#include "jitq/mx/kernel.hpp"

namespace jitq::mx {

// Threads used for large inputs (>= 1); defaults to min(hardware threads, 8).
int num_threads();
void set_num_threads(int n);

// Instruction set used by run_parallel: "avx2" when the CPU has it (x86-64), else "baseline".
// set_isa("baseline") forces the portable build (tests compare both); unknown names are refused.
const char* isa();
bool set_isa(const char* name);

// The AVX2 build of run_lines (kernel_avx2.cpp; mode/format as their underlying integers, layout
// as pre/len/post); avx2_available() tells whether it may run on this CPU.
bool avx2_available();
void run_lines_avx2(int mode, int format, const float* src, float* dst,
                    const std::uint8_t* scales_in, std::uint8_t* scales_out,
                    const std::uint8_t* elements_in, std::uint8_t* elements_out, std::size_t pre,
                    std::size_t len, std::size_t post, std::size_t line0, std::size_t line1);

// Runs run_lines() over all lines of l, split into contiguous line ranges across threads when the
// input is large enough to amortise thread start-up.
void run_parallel(Mode mode, Format f, const float* src, float* dst, const std::uint8_t* scales_in,
                  std::uint8_t* scales_out, const std::uint8_t* elements_in,
                  std::uint8_t* elements_out, const Layout& l);

}  // namespace jitq::mx

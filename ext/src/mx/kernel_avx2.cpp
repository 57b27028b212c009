// The same jitq::mx kernel compiled for AVX2 (x86-64), chosen at run time by parallel.cpp.
// Its entry point takes plain integers (declared in parallel.hpp, which this file cannot include:
// that would pull in the baseline kernel.hpp first and the #pragma once would skip the copy below).
//
// kernel.hpp is included a second time inside namespace jitq_avx2, so its inline functions and
// templates get distinct symbols (no ODR clash with the baseline build in the other files) and are
// compiled with 256-bit vectors. Same source, same IEEE operations, no FMA: the same bits.
#include <algorithm>
#include <array>
#include <bit>
#include <cfenv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2")
namespace jitq_avx2 {
#include "jitq/mx/kernel.hpp"
}  // namespace jitq_avx2
#pragma GCC pop_options

namespace jitq::mx {

bool avx2_available() { return __builtin_cpu_supports("avx2"); }

void run_lines_avx2(int mode, int format, const float* src, float* dst,
                    const std::uint8_t* scales_in, std::uint8_t* scales_out,
                    const std::uint8_t* elements_in, std::uint8_t* elements_out, std::size_t pre,
                    std::size_t len, std::size_t post, std::size_t line0, std::size_t line1) {
  namespace k = jitq_avx2::jitq::mx;
  k::run_lines(static_cast<k::Mode>(mode), static_cast<k::Format>(format), src, dst, scales_in,
               scales_out, elements_in, elements_out, k::Layout{pre, len, post}, line0, line1);
}

}  // namespace jitq::mx
#else
namespace jitq::mx {

bool avx2_available() { return false; }

void run_lines_avx2(int, int, const float*, float*, const std::uint8_t*, std::uint8_t*,
                    const std::uint8_t*, std::uint8_t*, std::size_t, std::size_t, std::size_t,
                    std::size_t, std::size_t) {}  // never called: avx2_available() is false

}  // namespace jitq::mx
#endif

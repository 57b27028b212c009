// Splits an MX array job into line ranges run on std::jthreads (RAII join).
#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <thread>
#include <vector>

namespace jitq::mx {

namespace {

// Below this many elements one thread is faster than starting another.
constexpr std::size_t kMinElementsPerThread = std::size_t{1} << 16;

int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(hw == 0 ? 1u : hw, 1u, 8u));
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

std::atomic<bool>& use_avx2() {
  static std::atomic<bool> on{avx2_available()};
  return on;
}

void run_range(Mode mode, Format f, const float* src, float* dst, const std::uint8_t* scales_in,
               std::uint8_t* scales_out, const std::uint8_t* elements_in, std::uint8_t* elements_out,
               const Layout& l, std::size_t a, std::size_t b) {
  // (run_lines sets the default FP environment itself.)
  // Measured on the project's machine (bench/bench_mx.py): the AVX2 build is 20-40% faster except
  // for MX9/6/4 fake-quantization, which the baseline build runs faster (about 3 vs 2.3 GB/s/core).
  const bool smx_qdq = mode == Mode::QuantizeDequantize && info(f).kind == Kind::SMX;
  if (use_avx2().load() && !smx_qdq) {
    run_lines_avx2(static_cast<int>(mode), static_cast<int>(f), src, dst, scales_in, scales_out,
                   elements_in, elements_out, l.pre, l.len, l.post, a, b);
  } else {
    run_lines(mode, f, src, dst, scales_in, scales_out, elements_in, elements_out, l, a, b);
  }
}

}  // namespace

const char* isa() { return use_avx2().load() ? "avx2" : "baseline"; }

bool set_isa(const char* name) {
  const std::string_view n(name);
  if (n == "baseline") {
    use_avx2().store(false);
    return true;
  }
  if (n == "avx2" && avx2_available()) {
    use_avx2().store(true);
    return true;
  }
  return false;
}

int num_threads() { return thread_setting().load(); }

void set_num_threads(int n) { thread_setting().store(n < 1 ? default_threads() : n); }

void run_parallel(Mode mode, Format f, const float* src, float* dst, const std::uint8_t* scales_in,
                  std::uint8_t* scales_out, const std::uint8_t* elements_in,
                  std::uint8_t* elements_out, const Layout& l) {
  Layout work = l;
  // A contiguous array of whole blocks is the same job as one block per line: more lines, finer split.
  const auto bs = static_cast<std::size_t>(info(f).block_size);
  if (work.post == 1 && work.len % bs == 0 && work.len > bs) {
    work.pre = work.pre * (work.len / bs);
    work.len = bs;
  }
  const std::size_t lines = work.pre * work.post;
  const std::size_t elements = lines * work.len;
  const std::size_t by_size = std::max<std::size_t>(1, elements / kMinElementsPerThread);
  const std::size_t n = std::min({static_cast<std::size_t>(num_threads()), by_size, lines});
  if (n <= 1) {
    run_range(mode, f, src, dst, scales_in, scales_out, elements_in, elements_out, work, 0, lines);
    return;
  }
  std::vector<std::jthread> pool;
  pool.reserve(n - 1);
  const std::size_t per = (lines + n - 1) / n;
  for (std::size_t t = 1; t < n; ++t) {
    const std::size_t a = std::min(lines, t * per), b = std::min(lines, (t + 1) * per);
    pool.emplace_back([=] {
      run_range(mode, f, src, dst, scales_in, scales_out, elements_in, elements_out, work, a, b);
    });
  }
  run_range(mode, f, src, dst, scales_in, scales_out, elements_in, elements_out, work, 0,
            std::min(lines, per));
}  // the jthreads join here

}  // namespace jitq::mx

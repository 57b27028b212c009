// jitq::mx — header-only, bit-exact MX quantization kernel (OCP MX v1.0 and MX9/MX6/MX4).
//
// The single C++ implementation shared by the Python module harness._mx and the simulator's
// functional PIM model. Bit-identical to the numpy reference harness/mx/reference.py; the rules are
// in DESIGN.md §5 and docs/mx-formats.md. All arithmetic is integer bit manipulation on the FP32
// encoding plus multiplications by exact powers of two: no log2/pow, no allocation, no virtual calls.
//
// Byte layout (contract C): per block, scale bytes then packed element codes, both in separate
// buffers: scales[n_blocks * scale_bytes], elements[n_blocks * element_bytes]. Element codes are
// packed at elem_bits bits, little-endian within a byte (code i at bits [i*w, (i+1)*w) of the block's
// bit string). OCP: 1 scale byte = shared exponent + 127, 0xFF = NaN block (element codes 0).
// MX9/6/4: 2 scale bytes = biased shared exponent E (0xFF = NaN block), pair-microexponent byte
// (bit j = pair j); element code = magnitude (m bits) | sign << m.
#pragma once

// Standard headers: keep this list in step with ext/src/mx/kernel_avx2.cpp, which includes them
// before it includes this header a second time inside a namespace.
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

namespace jitq::mx {

enum class Format : std::uint8_t {
  MXFP8_E4M3,
  MXFP8_E5M2,
  MXFP6_E3M2,
  MXFP6_E2M3,
  MXFP4_E2M1,
  MXINT8,
  MX9,
  MX6,
  MX4,
};

enum class Kind : std::uint8_t { FP, INT, SMX };

inline constexpr std::size_t kNumFormats = 9;

struct FormatInfo {
  std::string_view name;
  Kind kind;
  int elem_bits;          // bits per packed element code
  int block_size;         // elements per block (32 OCP, 16 MX9/6/4)
  int scale_bits;         // scale bits per block (8 E8M0; 16 = shared exponent + 8 microexponents)
  double max_normal;      // largest element magnitude before scaling (SMX: (2^m-1)*2^(1-m))
  int bytes_per_block;    // scale_bytes + element_bytes
  double bits_per_element;  // effective, incl. the shared scale
  int ebits;              // FP element exponent bits (0 otherwise)
  int mbits;              // FP mantissa bits; MXINT8 fraction bits (6); SMX magnitude bits m
  int emax;               // exponent of the largest normal element (FP), 0 otherwise
  int scale_bytes;        // 1 or 2
  int element_bytes;      // packed element bytes per block
};

inline constexpr std::array<FormatInfo, kNumFormats> kFormatTable = {{
    {"MXFP8_E4M3", Kind::FP, 8, 32, 8, 448.0, 33, 8.25, 4, 3, 8, 1, 32},
    {"MXFP8_E5M2", Kind::FP, 8, 32, 8, 57344.0, 33, 8.25, 5, 2, 15, 1, 32},
    {"MXFP6_E3M2", Kind::FP, 6, 32, 8, 28.0, 25, 6.25, 3, 2, 4, 1, 24},
    {"MXFP6_E2M3", Kind::FP, 6, 32, 8, 7.5, 25, 6.25, 2, 3, 2, 1, 24},
    {"MXFP4_E2M1", Kind::FP, 4, 32, 8, 6.0, 17, 4.25, 2, 1, 2, 1, 16},
    {"MXINT8", Kind::INT, 8, 32, 8, 127.0 / 64.0, 33, 8.25, 0, 6, 0, 1, 32},
    {"MX9", Kind::SMX, 8, 16, 16, 127.0 / 64.0, 18, 9.0, 0, 7, 0, 2, 16},
    {"MX6", Kind::SMX, 5, 16, 16, 15.0 / 8.0, 12, 6.0, 0, 4, 0, 2, 10},
    {"MX4", Kind::SMX, 3, 16, 16, 3.0 / 2.0, 8, 4.0, 0, 2, 0, 2, 6},
}};

inline constexpr const FormatInfo& info(Format f) {
  return kFormatTable[static_cast<std::size_t>(f)];
}

inline constexpr std::optional<Format> parse_format(std::string_view name) {
  for (std::size_t i = 0; i < kNumFormats; ++i) {
    if (kFormatTable[i].name == name) return static_cast<Format>(i);
  }
  return std::nullopt;
}

// The kernel needs the default floating-point environment: round to nearest-even, no flush of
// subnormal inputs/results (x86 DAZ/FTZ, which e.g. torch.set_flush_denormal(True) turns on).
// The entry points below (encode_blocks, decode_blocks, quantize_dequantize_blocks, run_lines) hold
// one of these for the duration of the call (about 100 cycles, once per call).
class ScopedDefaultFpEnv {
 public:
  ScopedDefaultFpEnv() {
    std::fegetenv(&saved_);
    std::fesetenv(FE_DFL_ENV);
  }
  ~ScopedDefaultFpEnv() { std::fesetenv(&saved_); }
  ScopedDefaultFpEnv(const ScopedDefaultFpEnv&) = delete;
  ScopedDefaultFpEnv& operator=(const ScopedDefaultFpEnv&) = delete;

 private:
  std::fenv_t saved_{};
};

namespace detail {

inline constexpr std::uint8_t kNanScale = 0xFF;

// 2^k as float for k in [-149, 127] (exact; subnormal powers included).
inline float exp2i(int k) {
  const std::uint32_t bits = k >= -126 ? static_cast<std::uint32_t>(k + 127) << 23
                                       : std::uint32_t{1} << (k + 149);
  return std::bit_cast<float>(bits);
}

// Round-half-even of m / 2^drop for 1 <= drop <= 31 and m < 2^24.
inline std::uint32_t rne_shift(std::uint32_t m, std::uint32_t drop) {
  const std::uint32_t half_minus_one = (std::uint32_t{1} << (drop - 1)) - 1;
  return (m + half_minus_one + ((m >> drop) & 1u)) >> drop;
}

// Compile-time parameters of one format's element encoding.
template <Format F>
struct Params {
  static constexpr const FormatInfo& fi = info(F);
  static constexpr Kind kind = fi.kind;
  static constexpr int BS = fi.block_size;
  static constexpr int W = fi.elem_bits;
  static constexpr int MB = fi.mbits;
  static constexpr int EMAX = fi.emax;
  static constexpr int BIAS = fi.kind == Kind::FP ? (1 << (fi.ebits - 1)) - 1 : 0;
  static constexpr int EMIN = fi.kind == Kind::FP ? 1 - BIAS : 0;  // FP: smallest normal exponent
  static constexpr int SB = fi.scale_bytes;
  static constexpr int EB = fi.element_bytes;
};

// Largest magnitude code (saturation) of an FP/INT element.
template <Format F>
constexpr std::uint32_t max_code() {
  switch (F) {
    case Format::MXFP8_E4M3: return 0x7E;  // 448 (0x7F is NaN)
    case Format::MXFP8_E5M2: return 0x7B;  // 57344 (0x7C is Inf)
    case Format::MXFP6_E3M2: return 0x1F;  // 28
    case Format::MXFP6_E2M3: return 0x1F;  // 7.5
    case Format::MXFP4_E2M1: return 0x7;   // 6
    case Format::MXINT8: return 127;       // 127/64
    default: return 0;
  }
}

// Element value of an FP/INT code (decode table entry), as the reference (ml_dtypes) reads it.
template <Format F>
constexpr float element_value(std::uint32_t code) {
  using P = Params<F>;
  if constexpr (P::kind == Kind::INT) {
    const int c = static_cast<int>(code & 0xFF) - ((code & 0x80) ? 256 : 0);
    return static_cast<float>(c) / 64.0f;
  } else {
    const std::uint32_t mant_mask = (1u << P::MB) - 1;
    const std::uint32_t field = (code >> P::MB) & ((1u << P::fi.ebits) - 1);
    const std::uint32_t mant = code & mant_mask;
    const bool neg = (code >> (P::W - 1)) & 1u;
    if (F == Format::MXFP8_E4M3 && field == 15 && mant == 7)
      return std::numeric_limits<float>::quiet_NaN();
    if (F == Format::MXFP8_E5M2 && field == 31) {
      if (mant != 0) return std::numeric_limits<float>::quiet_NaN();
      return neg ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    }
    double v = field == 0 ? static_cast<double>(mant) : static_cast<double>(mant + (1u << P::MB));
    int e = (field == 0 ? P::EMIN : static_cast<int>(field) - P::BIAS) - P::MB;
    for (; e > 0; --e) v *= 2.0;
    for (; e < 0; ++e) v /= 2.0;
    return static_cast<float>(neg ? -v : v);
  }
}

template <Format F>
constexpr std::array<float, (1u << Params<F>::W)> make_table() {
  std::array<float, (1u << Params<F>::W)> t{};
  for (std::uint32_t c = 0; c < t.size(); ++c) t[c] = element_value<F>(c);
  return t;
}

template <Format F>
inline constexpr auto kTable = make_table<F>();

// ---- packing: 8 codes of W bits <-> W bytes, little-endian ----
// Eight codes are gathered from one 64-bit load and spread/merged with shifts and masks
// (written for a little-endian host, as x86-64 and AArch64 Linux are).
static_assert(std::endian::native == std::endian::little, "MX packing assumes a little-endian host");

// Replicates a W-bit mask into every lane of `lane` bits.
template <int W, int LANE>
constexpr std::uint64_t lane_mask() {
  std::uint64_t m = 0;
  for (int i = 0; i < 64; i += LANE) m |= ((std::uint64_t{1} << W) - 1) << i;
  return m;
}

// 8 byte-wide codes (each < 2^W) -> 8W packed bits, by merging neighbours in 3 SWAR steps.
template <int W>
inline std::uint64_t pack8(std::uint64_t x) {
  x = (x & lane_mask<8, 16>()) | ((x >> (8 - W)) & (lane_mask<W, 16>() << W));
  x = (x & lane_mask<16, 32>()) | ((x >> (16 - 2 * W)) & (lane_mask<2 * W, 32>() << (2 * W)));
  return (x & 0xFFFFFFFFu) | ((x >> (32 - 4 * W)) & (((std::uint64_t{1} << (4 * W)) - 1) << (4 * W)));
}

template <int W>
inline std::uint64_t unpack8(std::uint64_t a) {
  a = (a & ((std::uint64_t{1} << (4 * W)) - 1)) | ((a >> (4 * W)) & ((std::uint64_t{1} << (4 * W)) - 1)) << 32;
  a = (a & lane_mask<2 * W, 32>()) | ((a >> (2 * W)) & lane_mask<2 * W, 32>()) << 16;
  return (a & lane_mask<W, 16>()) | ((a >> W) & lane_mask<W, 16>()) << 8;
}

template <int W, int N>
inline void pack(const std::uint8_t* codes, std::uint8_t* out) {
  if constexpr (W == 8) {
    std::memcpy(out, codes, N);
  } else {
    for (int g = 0; g < N / 8; ++g) {
      std::uint64_t x;
      std::memcpy(&x, codes + 8 * g, 8);
      const std::uint64_t acc = pack8<W>(x);
      std::memcpy(out + W * g, &acc, W);
    }
  }
}

template <int W, int N>
inline void unpack(const std::uint8_t* in, std::uint8_t* codes) {
  if constexpr (W == 8) {
    std::memcpy(codes, in, N);
  } else {
    for (int g = 0; g < N / 8; ++g) {
      std::uint64_t acc = 0;
      std::memcpy(&acc, in + W * g, W);
      const std::uint64_t x = unpack8<W>(acc);
      std::memcpy(codes + 8 * g, &x, 8);
    }
  }
}

// ---- one block: float32 -> scale bytes + element codes (unpacked) ----
//
// Rounding uses the FPU: for a quantum 2^q, t = |v| + 2^(q+23) lands in the binade whose spacing is
// 2^q, so the addition itself rounds |v| to a multiple of 2^q, to nearest, ties to even (the default
// FP environment), and bits(t) - bits(2^(q+23)) is the rounded magnitude in quanta. Every step is a
// SIMD-friendly lane operation (no per-element branches or variable shifts).
struct BlockScale {
  std::uint32_t shared_bits;  // OCP: scale byte; SMX: biased E
  std::uint32_t mu_byte;      // SMX only
  bool nan;
};

// SMX: also writes cbits[i], the bit pattern of C = 2^23 * step / 2^(E-127) of element i.
template <Format F>
inline BlockScale block_scale(const std::uint32_t* u, std::uint32_t* cbits) {
  using P = Params<F>;
  if constexpr (P::kind == Kind::SMX) {
    constexpr int BS = P::BS;
    constexpr std::uint32_t kC0 = static_cast<std::uint32_t>(127 + 24 - P::MB) << 23;
    std::uint32_t e[BS];
    std::uint32_t big = 0;
    for (int i = 0; i < BS; ++i) {
      e[i] = u[i] & 0x7F800000u;
      big = std::max(big, e[i]);
    }
    std::uint32_t mu_byte = 0;
    for (int j = 0; j < BS / 2; ++j) {
      const std::uint32_t mu = std::max(e[2 * j], e[2 * j + 1]) < big ? 1u : 0u;  // both below E
      mu_byte |= mu << j;
      cbits[2 * j] = kC0 - (mu << 23);
      cbits[2 * j + 1] = kC0 - (mu << 23);
    }
    const std::uint32_t big_e = big >> 23;
    return {big_e, big_e == 0xFF ? 0u : mu_byte, big_e == 0xFF};
  } else {
    std::uint32_t amax = 0;
    for (int i = 0; i < P::BS; ++i) amax = std::max(amax, u[i] & 0x7FFFFFFFu);
    // floor(log2(amax)) exactly from the exponent bits; zero/subnormal amax reads as -127.
    const int shared = std::clamp(static_cast<int>(amax >> 23) - 127 - P::EMAX, -127, 127);
    const bool nan = amax >= 0x7F800000u;
    return {nan ? kNanScale : static_cast<std::uint32_t>(shared + 127), 0u, nan};
  }
}

// ---- one element ----
// OCP: u = FP32 bits of x, inv = 2^-X, out_scale = 2^X. SMX: c = bits of C = 2^(24 - mu - m) for the
// element's pair, inv = 2^(127-E), out_scale = 2^(E-127). Codes: magnitude | sign (FP, SMX) or two's
// complement (MXINT8). Values: the dequantized float (what decode gives for the code).
template <Format F>
struct Element {
  using P = Params<F>;
  static constexpr std::uint32_t kMaxCode = max_code<F>();
  static constexpr std::uint32_t kEminBits = static_cast<std::uint32_t>(P::EMIN + 127) << 23;
  static constexpr std::uint32_t kIntC = (127u + 17u) << 23;  // MXINT8: quantum 2^-6

  static std::uint8_t ocp_code(std::uint32_t u, float inv) {
    const std::uint32_t v = std::bit_cast<std::uint32_t>(std::bit_cast<float>(u) * inv);
    const std::uint32_t sign = v >> 31;
    const std::uint32_t a = v & 0x7FFFFFFFu;
    if constexpr (P::kind == Kind::INT) {
      const std::uint32_t t = std::bit_cast<std::uint32_t>(std::bit_cast<float>(a) + std::bit_cast<float>(kIntC));
      const std::uint32_t code = std::min(t - kIntC, kMaxCode);
      return static_cast<std::uint8_t>((code ^ (0u - sign)) + sign);  // two's complement
    } else {
      // quantum exponent: max(e_v, EMIN) - MB; C = 2^(quantum + 23)
      const std::uint32_t eb = std::max(a & 0x7F800000u, kEminBits);
      const std::uint32_t c = eb + (static_cast<std::uint32_t>(23 - P::MB) << 23);
      const std::uint32_t t = std::bit_cast<std::uint32_t>(std::bit_cast<float>(a) + std::bit_cast<float>(c));
      const std::uint32_t code = std::min((t - c) + ((eb - kEminBits) >> (23 - P::MB)), kMaxCode);
      return static_cast<std::uint8_t>(code | (sign << (P::W - 1)));
    }
  }

  static float ocp_value(std::uint32_t u, float inv, float out_scale) {
    const std::uint32_t v = std::bit_cast<std::uint32_t>(std::bit_cast<float>(u) * inv);
    std::uint32_t sign = v >> 31;
    const std::uint32_t a = v & 0x7FFFFFFFu;
    float r;
    if constexpr (P::kind == Kind::INT) {
      const float t = std::bit_cast<float>(a) + std::bit_cast<float>(kIntC);
      r = std::min(t - std::bit_cast<float>(kIntC), 127.0f / 64.0f);
      sign &= r != 0.0f ? 1u : 0u;  // two's complement has no -0
    } else {
      const std::uint32_t eb = std::max(a & 0x7F800000u, kEminBits);
      const float cf = std::bit_cast<float>(eb + (static_cast<std::uint32_t>(23 - P::MB) << 23));
      r = std::min((std::bit_cast<float>(a) + cf) - cf, static_cast<float>(P::fi.max_normal));
    }
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(r * out_scale) | (sign << 31));
  }

  // SMX magnitude code n (before the sign): |x| flushed if subnormal, rounded in steps of C/2^23.
  static std::uint32_t smx_mag(std::uint32_t u, std::uint32_t c, float inv) {
    const std::uint32_t keep = (u & 0x7F800000u) != 0 ? 0xFFFFFFFFu : 0u;  // FP32 subnormals -> 0
    const float y = std::bit_cast<float>(u & 0x7FFFFFFFu & keep) * inv;
    const std::uint32_t t = std::bit_cast<std::uint32_t>(y + std::bit_cast<float>(c));
    return std::min(t - c, (1u << P::MB) - 1);
  }

  static std::uint8_t smx_code(std::uint32_t u, std::uint32_t c, float inv) {
    return static_cast<std::uint8_t>(smx_mag(u, c, inv) | ((u >> 31) << P::MB));
  }

  static float smx_value(std::uint32_t u, std::uint32_t c, float inv, float out_scale) {
    const std::uint32_t n = smx_mag(u, c, inv);
    const float step = std::bit_cast<float>(c - (23u << 23));  // 2^(1-mu-M), a normal float
    const float r = static_cast<float>(static_cast<std::int32_t>(n)) * step * out_scale;
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(r) | (u & 0x80000000u));
  }
};

// Rounded elements of one non-NaN block: codes when CODES, dequantized values when VALUES.
template <Format F, bool CODES, bool VALUES>
inline void block_elements(const std::uint32_t* u, const BlockScale& sc, const std::uint32_t* cbits,
                           std::uint8_t* codes, float* dst) {
  using P = Params<F>;
  using E = Element<F>;
  constexpr int BS = P::BS;
  if constexpr (P::kind == Kind::SMX) {
    // y = |x| / 2^(E-127) in [0, 2); step 2^(1-mu-M); C = step * 2^23.
    const float inv = exp2i(127 - static_cast<int>(sc.shared_bits));
    const float out_scale = exp2i(static_cast<int>(sc.shared_bits) - 127);
    for (int i = 0; i < BS; ++i) {
      if constexpr (CODES) codes[i] = E::smx_code(u[i], cbits[i], inv);
      if constexpr (VALUES) dst[i] = E::smx_value(u[i], cbits[i], inv, out_scale);
    }
  } else {
    const int shared = static_cast<int>(sc.shared_bits) - 127;
    const float inv = exp2i(-shared);  // x * 2^-shared is exact unless |result| < 2^-126 (-> 0)
    const float out_scale = exp2i(shared);
    for (int i = 0; i < BS; ++i) {
      if constexpr (CODES) codes[i] = E::ocp_code(u[i], inv);
      if constexpr (VALUES) dst[i] = E::ocp_value(u[i], inv, out_scale);
    }
  }
}

// Fake-quantization of a tile whose blocks run down the columns (an axis other than the last):
// rows k < k_count at src + k * stride, columns [0, qc). The rows are copied into a local
// BS x QC tile (zero-padded) and everything is computed across the columns with fixed trip counts,
// so it vectorizes without transposing; NaN/Inf columns give quiet NaN. dst may alias src.
template <Format F, std::size_t QC>
inline void quantize_dequantize_columns(const float* src, float* dst, std::size_t stride,
                                        std::size_t k_count, std::size_t qc) {
  using P = Params<F>;
  using E = Element<F>;
  constexpr std::size_t BS = P::BS;
  constexpr std::uint32_t kQNan = 0x7FC00000u;
  constexpr std::uint32_t kTopMask = P::kind == Kind::SMX ? 0x7F800000u : 0x7FFFFFFFu;
  alignas(64) std::uint32_t tile[BS][QC];
  if (k_count < BS || qc < QC) std::memset(tile, 0, sizeof(tile));
  for (std::size_t k = 0; k < k_count; ++k) std::memcpy(tile[k], src + k * stride, qc * sizeof(float));
  std::uint32_t top[QC] = {};  // OCP: amax bits; SMX: max exponent field (as bits)
  for (std::size_t k = 0; k < BS; ++k)
    for (std::size_t q = 0; q < QC; ++q) top[q] = std::max(top[q], tile[k][q] & kTopMask);
  float inv[QC], out_scale[QC];
  std::uint32_t nan[QC];
  for (std::size_t q = 0; q < QC; ++q) {
    nan[q] = top[q] >= 0x7F800000u ? 0xFFFFFFFFu : 0u;
    const int e = static_cast<int>(top[q] >> 23) - 127;
    // OCP: X = clamp(e - emax); SMX: E - 127 (a NaN column's 128 is capped: any finite scale will do)
    const int x = P::kind == Kind::SMX ? std::min(e, 127) : std::clamp(e - P::EMAX, -127, 127);
    inv[q] = exp2i(-x);
    out_scale[q] = exp2i(x);
  }
  alignas(64) float out[BS][QC];
  if constexpr (P::kind == Kind::SMX) {
    constexpr std::uint32_t kC0 = static_cast<std::uint32_t>(127 + 24 - P::MB) << 23;
    for (std::size_t k = 0; k < BS; k += 2) {
      for (std::size_t q = 0; q < QC; ++q) {
        const std::uint32_t u0 = tile[k][q], u1 = tile[k + 1][q];
        const std::uint32_t pe = std::max(u0 & 0x7F800000u, u1 & 0x7F800000u);
        const std::uint32_t c = kC0 - ((pe < top[q] ? 1u : 0u) << 23);  // pair below E: mu = 1
        out[k][q] = E::smx_value(u0, c, inv[q], out_scale[q]);
        out[k + 1][q] = E::smx_value(u1, c, inv[q], out_scale[q]);
      }
    }
  } else {
    for (std::size_t k = 0; k < BS; ++k)
      for (std::size_t q = 0; q < QC; ++q) out[k][q] = E::ocp_value(tile[k][q], inv[q], out_scale[q]);
  }
  for (std::size_t k = 0; k < BS; ++k)
    for (std::size_t q = 0; q < QC; ++q)
      out[k][q] = std::bit_cast<float>((std::bit_cast<std::uint32_t>(out[k][q]) & ~nan[q]) | (kQNan & nan[q]));
  for (std::size_t k = 0; k < k_count; ++k) std::memcpy(dst + k * stride, out[k], qc * sizeof(float));
}

template <Format F>
inline void encode_block_codes(const float* src, std::uint8_t* scale, std::uint8_t* codes) {
  using P = Params<F>;
  std::uint32_t u[P::BS];
  std::memcpy(u, src, sizeof(u));
  std::uint32_t cbits[P::BS];
  const BlockScale sc = block_scale<F>(u, cbits);
  scale[0] = static_cast<std::uint8_t>(sc.shared_bits);
  if constexpr (P::SB == 2) scale[1] = static_cast<std::uint8_t>(sc.mu_byte);
  if (sc.nan) {
    std::memset(codes, 0, P::BS);
    return;
  }
  block_elements<F, true, false>(u, sc, cbits, codes, nullptr);
}

// Fused fake-quantization of one block (no codes, no tables); dst may alias src.
template <Format F>
inline void quantize_dequantize_block(const float* src, float* dst) {
  using P = Params<F>;
  std::uint32_t u[P::BS];
  std::memcpy(u, src, sizeof(u));
  std::uint32_t cbits[P::BS];
  const BlockScale sc = block_scale<F>(u, cbits);
  if (sc.nan) {
    for (int i = 0; i < P::BS; ++i) dst[i] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  block_elements<F, false, true>(u, sc, cbits, nullptr, dst);
}

// ---- one block: scale bytes + element codes (unpacked) -> float32 ----
template <Format F>
inline void decode_block_codes(const std::uint8_t* scale, const std::uint8_t* codes, float* dst) {
  using P = Params<F>;
  constexpr int BS = P::BS;
  if (scale[0] == kNanScale) {
    for (int i = 0; i < BS; ++i) dst[i] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  if constexpr (P::kind == Kind::SMX) {
    constexpr int M = P::MB;
    const int big_e = static_cast<int>(scale[0]) - 127;
    const float steps[2] = {exp2i(big_e - M + 1), exp2i(big_e - 1 - M + 1)};
    float step[BS];
    for (int j = 0; j < BS / 2; ++j) step[2 * j] = step[2 * j + 1] = steps[(scale[1] >> j) & 1u];
    for (int i = 0; i < BS; ++i) {
      const auto mag_code = static_cast<std::int32_t>(codes[i] & ((1u << M) - 1));
      const float mag = static_cast<float>(mag_code) * step[i];
      const std::uint32_t sign = static_cast<std::uint32_t>((codes[i] >> M) & 1u) << 31;
      dst[i] = std::bit_cast<float>(std::bit_cast<std::uint32_t>(mag) | sign);
    }
  } else {
    const float s = exp2i(static_cast<int>(scale[0]) - 127);
    constexpr auto& table = kTable<F>;
    for (int i = 0; i < BS; ++i) dst[i] = table[codes[i]] * s;
  }
}

template <Format F>
inline void encode_blocks_t(const float* src, std::size_t n_blocks, std::uint8_t* scales,
                            std::uint8_t* elements) {
  using P = Params<F>;
  std::uint8_t codes[P::BS];
  for (std::size_t b = 0; b < n_blocks; ++b) {
    encode_block_codes<F>(src + b * P::BS, scales + b * P::SB, codes);
    pack<P::W, P::BS>(codes, elements + b * P::EB);
  }
}

template <Format F>
inline void decode_blocks_t(const std::uint8_t* scales, const std::uint8_t* elements,
                            std::size_t n_blocks, float* dst) {
  using P = Params<F>;
  std::uint8_t codes[P::BS];
  for (std::size_t b = 0; b < n_blocks; ++b) {
    unpack<P::W, P::BS>(elements + b * P::EB, codes);
    decode_block_codes<F>(scales + b * P::SB, codes, dst + b * P::BS);
  }
}

template <Format F>
inline void quantize_dequantize_blocks_t(const float* src, std::size_t n_blocks, float* dst) {
  using P = Params<F>;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    quantize_dequantize_block<F>(src + b * P::BS, dst + b * P::BS);
  }
}

// Calls fn.template operator()<F>() with the runtime format as a template argument.
template <typename Fn>
inline void dispatch(Format f, Fn&& fn) {
  switch (f) {
    case Format::MXFP8_E4M3: fn.template operator()<Format::MXFP8_E4M3>(); break;
    case Format::MXFP8_E5M2: fn.template operator()<Format::MXFP8_E5M2>(); break;
    case Format::MXFP6_E3M2: fn.template operator()<Format::MXFP6_E3M2>(); break;
    case Format::MXFP6_E2M3: fn.template operator()<Format::MXFP6_E2M3>(); break;
    case Format::MXFP4_E2M1: fn.template operator()<Format::MXFP4_E2M1>(); break;
    case Format::MXINT8: fn.template operator()<Format::MXINT8>(); break;
    case Format::MX9: fn.template operator()<Format::MX9>(); break;
    case Format::MX6: fn.template operator()<Format::MX6>(); break;
    case Format::MX4: fn.template operator()<Format::MX4>(); break;
  }
}

}  // namespace detail

// Encode n_blocks blocks (src holds n_blocks * block_size floats, gathered along the block axis).
inline void encode_blocks(Format f, const float* src, std::size_t n_blocks, std::uint8_t* scales,
                          std::uint8_t* elements) {
  ScopedDefaultFpEnv env;
  detail::dispatch(f, [&]<Format F>() { detail::encode_blocks_t<F>(src, n_blocks, scales, elements); });
}

// Decode n_blocks blocks into dst (n_blocks * block_size floats).
inline void decode_blocks(Format f, const std::uint8_t* scales, const std::uint8_t* elements,
                          std::size_t n_blocks, float* dst) {
  ScopedDefaultFpEnv env;
  detail::dispatch(f, [&]<Format F>() { detail::decode_blocks_t<F>(scales, elements, n_blocks, dst); });
}

// Fake-quantize n_blocks blocks: dst = decode(encode(src)); dst may alias src.
inline void quantize_dequantize_blocks(Format f, const float* src, std::size_t n_blocks, float* dst) {
  ScopedDefaultFpEnv env;
  detail::dispatch(f, [&]<Format F>() { detail::quantize_dequantize_blocks_t<F>(src, n_blocks, dst); });
}

// ---------------------------------------------------------------------------------------------
// Array-level driver: an input viewed as a C-contiguous (pre, len, post) array, blocked along len
// (axis `len`, i.e. x.reshape(pre, len, post)); a partial last block is zero-padded. Block order is
// contract C's: block (p, q, b) has index (p * post + q) * ceil(len / block_size) + b. A "line" is
// one (p, q) pair; drivers process a line range so callers can split the work across threads.
// ---------------------------------------------------------------------------------------------
struct Layout {
  std::size_t pre = 1, len = 0, post = 1;
};

enum class Mode : std::uint8_t { Encode, Decode, QuantizeDequantize };

inline std::size_t blocks_per_line(Format f, const Layout& l) {
  const auto bs = static_cast<std::size_t>(info(f).block_size);
  return (l.len + bs - 1) / bs;
}

inline std::size_t total_blocks(Format f, const Layout& l) {
  return l.pre * l.post * blocks_per_line(f, l);
}

namespace detail {

template <Format F, Mode MODE>
inline void lines_contiguous(const float* src, float* dst, const std::uint8_t* scales_in,
                             std::uint8_t* scales, const std::uint8_t* elements_in,
                             std::uint8_t* elements, const Layout& l, std::size_t line0,
                             std::size_t line1) {
  using P = Params<F>;
  constexpr std::size_t BS = P::BS;
  const std::size_t nbl = (l.len + BS - 1) / BS;
  const std::size_t nfull = l.len / BS;
  const std::size_t rem = l.len - nfull * BS;
  auto run_full = [&](std::size_t first_line, std::size_t n_lines_or_blocks, std::size_t nb) {
    const std::size_t base = first_line * l.len;
    const std::size_t b0 = first_line * nbl;
    (void)n_lines_or_blocks;
    if constexpr (MODE == Mode::Encode) {
      encode_blocks_t<F>(src + base, nb, scales + b0 * P::SB, elements + b0 * P::EB);
    } else if constexpr (MODE == Mode::Decode) {
      decode_blocks_t<F>(scales_in + b0 * P::SB, elements_in + b0 * P::EB, nb, dst + base);
    } else {
      quantize_dequantize_blocks_t<F>(src + base, nb, dst + base);
    }
  };
  if (rem == 0) {  // the lines are back to back: one run over all their blocks
    run_full(line0, line1 - line0, (line1 - line0) * nfull);
    return;
  }
  float buf[BS];
  for (std::size_t line = line0; line < line1; ++line) {
    if (nfull) run_full(line, 1, nfull);
    const std::size_t base = line * l.len + nfull * BS;
    const std::size_t bi = line * nbl + nfull;
    if constexpr (MODE != Mode::Decode) {
      std::memset(buf, 0, sizeof(buf));
      std::memcpy(buf, src + base, rem * sizeof(float));
    }
    if constexpr (MODE == Mode::Encode) {
      encode_blocks_t<F>(buf, 1, scales + bi * P::SB, elements + bi * P::EB);
    } else {
      if constexpr (MODE == Mode::Decode) {
        decode_blocks_t<F>(scales_in + bi * P::SB, elements_in + bi * P::EB, 1, buf);
      } else {
        quantize_dequantize_blocks_t<F>(buf, 1, buf);
      }
      std::memcpy(dst + base, buf, rem * sizeof(float));
    }
  }
}

// post > 1: gather a tile of QC lines x BS elements (transposing), run it, scatter back.
template <Format F, Mode MODE>
inline void lines_strided(const float* src, float* dst, const std::uint8_t* scales_in,
                          std::uint8_t* scales, const std::uint8_t* elements_in,
                          std::uint8_t* elements, const Layout& l, std::size_t line0,
                          std::size_t line1) {
  using P = Params<F>;
  constexpr std::size_t BS = P::BS;
  constexpr std::size_t QC = 64;
  const std::size_t nbl = (l.len + BS - 1) / BS;
  alignas(64) float tile[QC * BS];
  std::uint8_t codes[BS];
  // Per p: block rows b outermost, so the BS input rows of a block row stream through the cache
  // once while q advances in chunks of QC lines.
  std::size_t line = line0;
  while (line < line1) {
    const std::size_t p = line / l.post;
    const std::size_t qa = line % l.post;
    const std::size_t qb = std::min(l.post, qa + (line1 - line));
    for (std::size_t b = 0; b < nbl; ++b) {
      const std::size_t k_count = std::min(BS, l.len - b * BS);
      for (std::size_t q0 = qa; q0 < qb; q0 += QC) {
        const std::size_t qc = std::min(QC, qb - q0);
        const std::size_t row0 = (p * l.len + b * BS) * l.post + q0;
        const std::size_t line_q0 = p * l.post + q0;
        if constexpr (MODE == Mode::QuantizeDequantize) {
          quantize_dequantize_columns<F, QC>(src + row0, dst + row0, l.post, k_count, qc);
          continue;
        }
        if constexpr (MODE != Mode::Decode) {
          if (k_count < BS) std::memset(tile, 0, sizeof(tile));
          for (std::size_t k = 0; k < k_count; ++k) {
            const float* row = src + row0 + k * l.post;
            for (std::size_t qi = 0; qi < qc; ++qi) tile[qi * BS + k] = row[qi];
          }
        }
        for (std::size_t qi = 0; qi < qc; ++qi) {
          const std::size_t bi = (line_q0 + qi) * nbl + b;
          float* blk = tile + qi * BS;
          if constexpr (MODE == Mode::Encode) {
            encode_block_codes<F>(blk, scales + bi * P::SB, codes);
            pack<P::W, P::BS>(codes, elements + bi * P::EB);
          } else if constexpr (MODE == Mode::Decode) {
            unpack<P::W, P::BS>(elements_in + bi * P::EB, codes);
            decode_block_codes<F>(scales_in + bi * P::SB, codes, blk);
          } else {
            quantize_dequantize_block<F>(blk, blk);
          }
        }
        if constexpr (MODE != Mode::Encode) {
          for (std::size_t k = 0; k < k_count; ++k) {
            float* row = dst + row0 + k * l.post;
            for (std::size_t qi = 0; qi < qc; ++qi) row[qi] = tile[qi * BS + k];
          }
        }
      }
    }
    line += qb - qa;
  }
}

}  // namespace detail

// Run one mode over lines [line0, line1) of layout l (see Layout). Unused pointers may be null:
// Encode reads src, writes scales/elements; Decode reads scales/elements, writes dst;
// QuantizeDequantize reads src, writes dst.
inline void run_lines(Mode mode, Format f, const float* src, float* dst, const std::uint8_t* scales_in,
                      std::uint8_t* scales_out, const std::uint8_t* elements_in,
                      std::uint8_t* elements_out, const Layout& l, std::size_t line0,
                      std::size_t line1) {
  if (line0 >= line1 || l.len == 0) return;
  ScopedDefaultFpEnv env;
  detail::dispatch(f, [&]<Format F>() {
    auto go = [&]<Mode MODE>() {
      if (l.post == 1) {
        detail::lines_contiguous<F, MODE>(src, dst, scales_in, scales_out, elements_in,
                                          elements_out, l, line0, line1);
      } else {
        detail::lines_strided<F, MODE>(src, dst, scales_in, scales_out, elements_in, elements_out,
                                       l, line0, line1);
      }
    };
    switch (mode) {
      case Mode::Encode: go.template operator()<Mode::Encode>(); break;
      case Mode::Decode: go.template operator()<Mode::Decode>(); break;
      case Mode::QuantizeDequantize: go.template operator()<Mode::QuantizeDequantize>(); break;
    }
  });
}

}  // namespace jitq::mx

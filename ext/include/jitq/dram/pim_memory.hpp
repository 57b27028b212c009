// Functional PIM model: a sparse byte image of the DRAM address space and the quantize kernel that
// turns a weight stored in it (FP32 or BF16, row-major) into MX bytes, exactly as harness.mx.encode.
// Pages are allocated on first write, so a large address space costs nothing until it is written;
// reads of never-written bytes return zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "jitq/mx/kernel.hpp"

namespace jitq::dram {

class MemoryImage {
 public:
  static constexpr std::uint64_t kPageBytes = std::uint64_t{1} << 16;

  explicit MemoryImage(std::uint64_t capacity_bytes);

  std::uint64_t capacity() const { return capacity_; }
  std::size_t pages() const { return pages_.size(); }

  // Both throw std::out_of_range (nothing written) when [addr, addr + n) exceeds the capacity.
  void write(std::uint64_t addr, const std::uint8_t* data, std::size_t n);
  void read(std::uint64_t addr, std::uint8_t* out, std::size_t n) const;

 private:
  void check_range(std::uint64_t addr, std::size_t n) const;

  std::uint64_t capacity_;
  std::unordered_map<std::uint64_t, std::unique_ptr<std::uint8_t[]>> pages_;
};

enum class SrcDtype : std::uint8_t { FP32, BF16 };

struct QuantizeRequest {
  std::uint64_t src = 0;
  std::uint64_t dst = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  SrcDtype src_dtype = SrcDtype::BF16;
  mx::Format fmt = mx::Format::MX9;
  bool forward = true;  // true: blocks along cols (axis 1); false: along rows (axis 0)
};

// Bytes the kernel writes at dst: scales of every block, then their packed elements.
std::uint64_t quantize_out_bytes(const QuantizeRequest& req);

// Reads the weight at req.src, writes MX scales then elements at req.dst. Throws
// std::invalid_argument / std::out_of_range before touching the image on a bad request.
void run_quantize(MemoryImage& image, const QuantizeRequest& req);

}  // namespace jitq::dram

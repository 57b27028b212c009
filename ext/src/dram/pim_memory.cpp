// Functional PIM model (see jitq/dram/pim_memory.hpp).
#include "jitq/dram/pim_memory.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace jitq::dram {

MemoryImage::MemoryImage(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {
  if (capacity_bytes == 0) throw std::invalid_argument("memory image capacity must be positive");
}

void MemoryImage::check_range(std::uint64_t addr, std::size_t n) const {
  if (addr > capacity_ || n > capacity_ - addr) {
    throw std::out_of_range("memory image access [" + std::to_string(addr) + ", +" + std::to_string(n) +
                            ") exceeds capacity " + std::to_string(capacity_));
  }
}

void MemoryImage::write(std::uint64_t addr, const std::uint8_t* data, std::size_t n) {
  check_range(addr, n);
  while (n > 0) {
    const std::uint64_t page = addr / kPageBytes;
    const std::uint64_t off = addr % kPageBytes;
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(n, kPageBytes - off));
    auto& p = pages_[page];
    if (!p) p = std::make_unique<std::uint8_t[]>(kPageBytes);  // value-initialized: zeros
    std::memcpy(p.get() + off, data, len);
    addr += len;
    data += len;
    n -= len;
  }
}

void MemoryImage::read(std::uint64_t addr, std::uint8_t* out, std::size_t n) const {
  check_range(addr, n);
  while (n > 0) {
    const std::uint64_t page = addr / kPageBytes;
    const std::uint64_t off = addr % kPageBytes;
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(n, kPageBytes - off));
    auto it = pages_.find(page);
    if (it == pages_.end()) {
      std::memset(out, 0, len);
    } else {
      std::memcpy(out, it->second.get() + off, len);
    }
    addr += len;
    out += len;
    n -= len;
  }
}

namespace {

std::int64_t blocks_along(std::int64_t len, int bs) { return (len + bs - 1) / bs; }

std::size_t esize(SrcDtype d) { return d == SrcDtype::FP32 ? 4 : 2; }

}  // namespace

std::uint64_t quantize_out_bytes(const QuantizeRequest& req) {
  const auto& fi = mx::info(req.fmt);
  const std::int64_t n_blocks = req.forward ? req.rows * blocks_along(req.cols, fi.block_size)
                                            : req.cols * blocks_along(req.rows, fi.block_size);
  return static_cast<std::uint64_t>(n_blocks) * static_cast<std::uint64_t>(fi.bytes_per_block);
}

void run_quantize(MemoryImage& image, const QuantizeRequest& req) {
  if (req.rows <= 0 || req.cols <= 0) throw std::invalid_argument("quantize: rows and cols must be positive");
  const std::size_t es = esize(req.src_dtype);
  const std::uint64_t n_elem = static_cast<std::uint64_t>(req.rows) * static_cast<std::uint64_t>(req.cols);
  const std::uint64_t src_bytes = n_elem * es;
  const std::uint64_t out_bytes = quantize_out_bytes(req);
  if (req.src > image.capacity() || src_bytes > image.capacity() - req.src ||
      req.dst > image.capacity() || out_bytes > image.capacity() - req.dst) {
    throw std::out_of_range("quantize: source or destination region exceeds the image capacity");
  }
  if (req.src < req.dst + out_bytes && req.dst < req.src + src_bytes) {
    throw std::invalid_argument("quantize: source and destination regions overlap");
  }

  std::vector<std::uint8_t> raw(static_cast<std::size_t>(src_bytes));
  image.read(req.src, raw.data(), raw.size());
  std::vector<float> w(static_cast<std::size_t>(n_elem));
  if (req.src_dtype == SrcDtype::FP32) {
    std::memcpy(w.data(), raw.data(), raw.size());
  } else {
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;  // BF16 widens exactly
      std::memcpy(&w[i], &bits, 4);
    }
  }

  // Gather along the block axis (np.moveaxis(x, axis, -1)), zero-padding each line to whole blocks.
  const auto& fi = mx::info(req.fmt);
  const int bs = fi.block_size;
  const std::int64_t lines = req.forward ? req.rows : req.cols;
  const std::int64_t len = req.forward ? req.cols : req.rows;
  const std::int64_t padded = blocks_along(len, bs) * bs;
  std::vector<float> blocks(static_cast<std::size_t>(lines * padded), 0.0f);
  for (std::int64_t l = 0; l < lines; ++l) {
    float* line = blocks.data() + l * padded;
    if (req.forward) {
      std::memcpy(line, w.data() + l * req.cols, static_cast<std::size_t>(req.cols) * 4);
    } else {
      for (std::int64_t i = 0; i < req.rows; ++i) line[i] = w[static_cast<std::size_t>(i * req.cols + l)];
    }
  }
  const std::size_t n_blocks = static_cast<std::size_t>(lines * padded / bs);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(out_bytes));
  std::uint8_t* scales = out.data();
  std::uint8_t* elements = out.data() + n_blocks * static_cast<std::size_t>(fi.scale_bytes);
  mx::encode_blocks(req.fmt, blocks.data(), n_blocks, scales, elements);
  image.write(req.dst, out.data(), out.size());
}

}  // namespace jitq::dram

// Ramulator2 LoadStoreTrace files: one request per line, "LD <addr>" or "ST <addr>", the address in
// decimal or 0x-hex. Blank lines and lines starting with '#' are skipped.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jitq::dram {

class TraceFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadStoreTrace {
  std::vector<uint64_t> addr;
  std::vector<uint8_t> is_write;
};

// Throws TraceFormatError "<path>:<line>: <problem>" on the first malformed line.
LoadStoreTrace read_loadstore_trace(const std::string& path);

}  // namespace jitq::dram

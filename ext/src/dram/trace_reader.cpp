#include "jitq/dram/trace_reader.hpp"

#include <cstdio>
#include <memory>

namespace jitq::dram {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }
}  // namespace

LoadStoreTrace read_loadstore_trace(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw TraceFormatError(path + ": cannot open trace file");
  std::fseek(f.get(), 0, SEEK_END);
  long size = std::ftell(f.get());
  std::fseek(f.get(), 0, SEEK_SET);
  std::string data(static_cast<size_t>(size < 0 ? 0 : size), '\0');
  if (size > 0 && std::fread(data.data(), 1, data.size(), f.get()) != data.size())
    throw TraceFormatError(path + ": read error");

  LoadStoreTrace t;
  t.addr.reserve(data.size() / 10);
  t.is_write.reserve(data.size() / 10);
  size_t pos = 0, line = 0;
  const size_t n = data.size();
  auto fail = [&](const std::string& what) {
    throw TraceFormatError(path + ":" + std::to_string(line) + ": " + what);
  };
  while (pos < n) {
    ++line;
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = n;
    size_t p = pos;
    pos = end + 1;
    while (p < end && is_space(data[p])) ++p;
    if (p == end || data[p] == '#') continue;
    // op
    size_t op = p;
    while (p < end && !is_space(data[p])) ++p;
    std::string_view opv(data.data() + op, p - op);
    bool write;
    if (opv == "LD") write = false;
    else if (opv == "ST") write = true;
    else fail("expected 'LD <address>' or 'ST <address>', got '" + std::string(opv) + "'");
    while (p < end && is_space(data[p])) ++p;
    if (p == end) fail("missing address after " + std::string(opv));
    size_t a = p;
    while (p < end && !is_space(data[p])) ++p;
    std::string_view av(data.data() + a, p - a);
    while (p < end && is_space(data[p])) ++p;
    if (p != end) fail("unexpected text after the address");
    uint64_t v = 0;
    bool hex = av.size() > 2 && av[0] == '0' && (av[1] == 'x' || av[1] == 'X');
    size_t k = hex ? 2 : 0;
    if (k == av.size()) fail("bad address '" + std::string(av) + "'");
    for (; k < av.size(); ++k) {
      char c = av[k];
      unsigned d;
      if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
      else if (hex && c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
      else if (hex && c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
      else fail("bad address '" + std::string(av) + "'");
      uint64_t base = hex ? 16 : 10;
      if (v > (UINT64_MAX - d) / base) fail("address '" + std::string(av) + "' does not fit in 64 bits");
      v = v * base + d;
    }
    t.addr.push_back(v);
    t.is_write.push_back(write ? 1 : 0);
  }
  return t;
}

}  // namespace jitq::dram

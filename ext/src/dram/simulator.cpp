#include "jitq/dram/simulator.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "jitq/dram/request_loop.hpp"

namespace jitq::dram {

namespace {
int log2i(int64_t v) {
  int b = 0;
  while ((int64_t{1} << b) < v) ++b;
  return b;
}
}  // namespace

AddressMapper::AddressMapper(const Spec& spec, int channels, Mapping mapping, bool wrap)
    : spec_(&spec), wrap_(wrap), xor_(mapping == Mapping::RoBaRaCoChXor) {
  if (channels < 1 || (channels & (channels - 1)) != 0) throw std::invalid_argument("channels must be a power of two >= 1");
  tx_shift_ = log2i(spec.tx_bytes);
  const int ch_bits = log2i(channels);
  const int col_bits = log2i(spec.column_accesses);
  const int row_bits = log2i(spec.rows);
  const int bg = spec.bankgroup_level > 0 ? spec.bankgroup_level : spec.bank_level;
  std::vector<Field> ra, ba;  // rank-like levels (pseudo-channel, rank, SID) and bank-like levels
  for (int l = 1; l < spec.n_levels; ++l) (l < bg ? ra : ba).push_back({l, log2i(spec.size[l])});
  auto add = [&](const std::vector<Field>& v) { fields_.insert(fields_.end(), v.begin(), v.end()); };
  switch (mapping) {
    case Mapping::RoBaRaCoCh:
    case Mapping::RoBaRaCoChXor:
      fields_.push_back({-2, ch_bits});
      fields_.push_back({-1, col_bits});
      add(ra);
      add(ba);
      fields_.push_back({0, row_bits});
      break;
    case Mapping::RoCoBaRaCh:
      fields_.push_back({-2, ch_bits});
      add(ra);
      add(ba);
      fields_.push_back({-1, col_bits});
      fields_.push_back({0, row_bits});
      break;
    case Mapping::ChRaBaRoCo:
      fields_.push_back({-1, col_bits});
      fields_.push_back({0, row_bits});
      add(ba);
      add(ra);
      fields_.push_back({-2, ch_bits});
      break;
  }
  int total = tx_shift_;
  for (const auto& f : fields_) total += f.bits;
  capacity_ = uint64_t{1} << total;
}

int AddressMapper::map(uint64_t addr, Request& req) const {
  if (addr >= capacity_) {
    if (!wrap_) throw std::out_of_range("address beyond capacity");
    addr &= capacity_ - 1;
  }
  uint64_t a = addr >> tx_shift_;
  int channel = 0;
  int local[kMaxLevels] = {0};
  int row = 0, col = 0;
  for (const auto& f : fields_) {
    int v = static_cast<int>(a & ((uint64_t{1} << f.bits) - 1));
    a >>= f.bits;
    if (f.kind == -2) channel = v;
    else if (f.kind == -1) col = v;
    else if (f.kind == 0) row = v;
    else local[f.kind] = v;
  }
  const Spec& s = *spec_;
  if (xor_) {
    // Permutation-based interleaving (Zhang et al., MICRO 2000): bank-group and bank bits XOR the
    // low row bits, so rows that conflict in one bank spread over banks.
    int shift = 0;
    const int first = s.bankgroup_level > 0 ? s.bankgroup_level : s.bank_level;
    for (int l = first; l <= s.bank_level; ++l) {
      int bits = log2i(s.size[l]);
      local[l] ^= (row >> shift) & ((1 << bits) - 1);
      shift += bits;
    }
  }
  req.at.node[0] = 0;
  int flat = 0;
  for (int l = 1; l < s.n_levels; ++l) {
    flat = flat * s.size[l] + local[l];
    req.at.node[l] = flat;
  }
  for (int l = s.n_levels; l < kMaxLevels; ++l) req.at.node[l] = -1;
  req.bank = req.at.node[s.bank_level];
  req.row = row;
  req.col = col;
  req.addr = addr;
  return channel;
}

Spec make_spec(const SimConfig& cfg) {
  return resolve_spec(standard(cfg.standard), cfg.org, cfg.timing, cfg.tCK_ps);
}

MemorySystem::MemorySystem(const SimConfig& cfg, const Spec& spec, const uint64_t* addr, const int64_t* arrival,
                           size_t n)
    : mapper(spec, cfg.channels, cfg.mapping, cfg.wrap), stats(cfg.channels) {
  check_requests(cfg, mapper, addr, arrival, n);
  if (!cfg.command_log.empty()) log = std::make_unique<CommandLog>(cfg.command_log, spec);
  for (int c = 0; c < cfg.channels; ++c) {
    stats[c].read_latency.reserve(n / cfg.channels + 16);
    ctrls.push_back(std::make_unique<Controller>(spec, cfg.controller, c, log.get(), &stats[c]));
  }
}

void MemorySystem::finish(const Spec& spec, SimResult& res) {
  if (log) log->close();
  res.tick_ps = spec.tick_ps;
  res.tx_bytes = spec.tx_bytes;
  collect_stats(spec, stats, res);
}

SimResult simulate(const SimConfig& cfg, const uint64_t* addr, const uint8_t* is_write, const int64_t* arrival,
                   size_t n) {
  const Spec spec = make_spec(cfg);
  MemorySystem ms(cfg, spec, addr, arrival, n);
  SimResult res;
  NoExtra none;
  run_requests(cfg, spec, ms, addr, is_write, arrival, n, none, res);
  ms.finish(spec, res);
  return res;
}

void check_requests(const SimConfig& cfg, const AddressMapper& mapper, const uint64_t* addr, const int64_t* arrival,
                    size_t n) {
  if (cfg.requests_per_clock < 1) throw std::invalid_argument("requests_per_clock must be >= 1");
  if (!cfg.wrap) {
    const uint64_t cap = mapper.capacity();
    for (size_t k = 0; k < n; ++k)
      if (addr[k] >= cap)
        throw std::out_of_range("request " + std::to_string(k) + ": address " + std::to_string(addr[k]) +
                                " is beyond the configured capacity of " + std::to_string(cap) +
                                " bytes (set address_overflow=wrap to drop the high bits)");
  }
  if (arrival)
    for (size_t k = 1; k < n; ++k)
      if (arrival[k] < arrival[k - 1]) throw std::invalid_argument("arrival times must be non-decreasing (index " + std::to_string(k) + ")");
}

void collect_stats(const Spec& spec, const std::vector<ChannelStats>& stats, SimResult& res) {
  ChannelStats& t = res.total;
  t.cmd_counts.assign(spec.ncmd(), 0);
  size_t nlat = 0;
  for (const auto& s : stats) nlat += s.read_latency.size();
  t.read_latency.reserve(nlat);
  for (const auto& s : stats) {
    t.reads += s.reads;
    t.writes += s.writes;
    t.row_hits += s.row_hits;
    t.row_misses += s.row_misses;
    t.row_conflicts += s.row_conflicts;
    t.read_forwarded += s.read_forwarded;
    t.write_coalesced += s.write_coalesced;
    for (int c = 0; c < spec.ncmd(); ++c) t.cmd_counts[c] += s.cmd_counts[c];
    t.read_latency.insert(t.read_latency.end(), s.read_latency.begin(), s.read_latency.end());
    t.last_completion = std::max(t.last_completion, s.last_completion);
  }
  res.cycles = std::max(t.last_completion, res.accept_cycles);
  for (const auto& c : spec.cmds) res.command_names.push_back(c.name);
}

}  // namespace jitq::dram

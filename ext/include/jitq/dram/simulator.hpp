// A memory system (channels of one standard) driven by a request stream with Ramulator2's trace
// frontend semantics: requests are offered in order, at most `requests_per_clock` per memory clock
// (not before their arrival tick when arrivals are given); a rejected request is retried at the next
// clock. The run records when the last request was accepted (accept_cycles) and continues until every
// request has completed (cycles). Ticks in which no controller can issue and no request can be
// accepted are skipped (next-event time).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jitq/dram/controller.hpp"
#include "jitq/dram/spec.hpp"

namespace jitq::dram {

enum class Mapping : unsigned char { RoBaRaCoCh, RoCoBaRaCh, ChRaBaRoCo, RoBaRaCoChXor };

struct SimConfig {
  std::string standard;
  Organization org;
  std::map<std::string, int64_t> timing;  // clocks
  int tCK_ps = 0;
  int channels = 1;
  Mapping mapping = Mapping::RoBaRaCoCh;
  bool wrap = false;  // drop address bits above capacity instead of failing
  ControllerConfig controller;
  int requests_per_clock = 1;
  std::string command_log;  // empty = none
  // Reference mode: evaluate every tick instead of jumping to the next event, and schedule by looking
  // every queued request up exactly (no cached bounds, no ready index). Results are the same either way
  // (tests check this); only slower. For tests and debugging.
  bool tick_every_cycle = false;
};

struct SimResult {
  int64_t cycles = 0;         // ticks until every request completed
  int64_t accept_cycles = 0;  // ticks until the last request was accepted
  double tick_ps = 0;
  int tx_bytes = 0;
  ChannelStats total;
  std::vector<std::string> command_names;
  int64_t ticks_simulated = 0;  // ticks actually evaluated (the rest were skipped)
};

// Splits a byte address into channel / levels / row / column.
class AddressMapper {
 public:
  AddressMapper(const Spec& spec, int channels, Mapping mapping, bool wrap);
  // Returns the channel; fills req.at (bank-level node indices), row, col. Throws if out of range.
  int map(uint64_t addr, Request& req) const;
  uint64_t capacity() const { return capacity_; }

 private:
  struct Field {
    int kind;  // -2 channel, -1 column, 0 row, >0 level index
    int bits;
  };
  const Spec* spec_;
  std::vector<Field> fields_;  // LSB first, after the transaction offset
  int tx_shift_ = 0;
  uint64_t capacity_ = 0;
  bool wrap_ = false;
  bool xor_ = false;
};

Spec make_spec(const SimConfig& cfg);
// Rejects a bad request stream before a run (requests_per_clock < 1, an address beyond the capacity
// unless cfg.wrap, decreasing arrival times). Shared by simulate() and simulate_with_pim().
void check_requests(const SimConfig& cfg, const AddressMapper& mapper, const uint64_t* addr, const int64_t* arrival,
                    size_t n);
// Sums the per-channel stats into res.total and sets res.cycles and res.command_names.
void collect_stats(const Spec& spec, const std::vector<ChannelStats>& stats, SimResult& res);
SimResult simulate(const SimConfig& cfg, const uint64_t* addr, const uint8_t* is_write, const int64_t* arrival,
                   size_t n);

}  // namespace jitq::dram

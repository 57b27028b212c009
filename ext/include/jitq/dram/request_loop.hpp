// The request loop shared by simulate() and simulate_with_pim(). Requests are offered in order with
// Ramulator2's trace-frontend semantics (at most `requests_per_clock` per memory clock, not before their
// arrival tick; a rejected request is retried at the next clock); controllers are ticked only at
// next-event times; the run ends when every request was accepted and everything is idle.
//
// `Extra` adds work beside the host stream (the PIM drivers) without virtual calls in the loop:
//   bool idle(size_t channel) const;                    // nothing of its own left on that channel
//   int64_t next_event(size_t channel, int64_t now);    // earliest tick it needs (> now), or kNever
//   void before_tick(size_t channel, int64_t now);      // runs before that channel's controller ticks
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "jitq/dram/controller.hpp"
#include "jitq/dram/simulator.hpp"

namespace jitq::dram {

// What one run owns besides the request stream: the address mapper (the requests are checked against
// it before anything is written), the command log, and per channel its stats and controller.
struct MemorySystem {
  MemorySystem(const SimConfig& cfg, const Spec& spec, const uint64_t* addr, const int64_t* arrival, size_t n);
  // Closes the command log and fills res from the channels' stats and the spec's units.
  void finish(const Spec& spec, SimResult& res);

  AddressMapper mapper;
  std::unique_ptr<CommandLog> log;
  std::vector<ChannelStats> stats;
  std::vector<std::unique_ptr<Controller>> ctrls;
};

// The plain run: the host stream only.
struct NoExtra {
  bool idle(size_t) const { return true; }
  int64_t next_event(size_t, int64_t) const { return kNever; }
  void before_tick(size_t, int64_t) {}
};

// Runs the stream to completion; sets res.accept_cycles and res.ticks_simulated.
template <class Extra>
void run_requests(const SimConfig& cfg, const Spec& spec, MemorySystem& ms, const uint64_t* addr,
                  const uint8_t* is_write, const int64_t* arrival, size_t n, Extra& extra, SimResult& res) {
  const AddressMapper& mapper = ms.mapper;
  std::vector<std::unique_ptr<Controller>>& ctrls = ms.ctrls;
  const int64_t period = spec.tick_mult;  // ticks per memory clock: one offer opportunity per clock
  // Clock boundaries without a division per loop turn (the period is 1 or 2 for every standard so far).
  const bool pow2 = (period & (period - 1)) == 0;
  auto on_clock = [&](int64_t t) { return pow2 ? (t & (period - 1)) == 0 : t % period == 0; };
  auto clock_at_or_after = [&](int64_t t) { return pow2 ? (t + period - 1) & ~(period - 1) : (t + period - 1) / period * period; };
  const size_t nch = ctrls.size();
  size_t i = 0;
  Request head;
  int head_ch = -1;
  auto load_head = [&]() {
    if (i >= n) return;
    head = Request{};
    head.kind = is_write[i] ? 1 : 0;
    head_ch = mapper.map(addr[i], head);
  };
  load_head();

  int64_t now = 0;  // ticks completed (Ramulator's m_clk between ticks)
  int64_t ticks = 0;
  for (;;) {
    // Frontend: offers happen between ticks, on memory-clock boundaries.
    if (i < n && on_clock(now) && (!arrival || arrival[i] <= now)) {
      for (int k = 0; k < cfg.requests_per_clock && i < n; ++k) {
        if (arrival && arrival[i] > now) break;
        if (!ctrls[head_ch]->send(head, now)) break;
        ++i;
        if (i == n) res.accept_cycles = now;
        load_head();
      }
    }
    bool all_idle = true;
    for (size_t c = 0; c < nch; ++c) {
      ctrls[c]->settle_mode();
      all_idle = all_idle && ctrls[c]->idle() && extra.idle(c);
    }
    if (i >= n && all_idle) break;

    int64_t next_tick = kNever;
    for (size_t c = 0; c < nch; ++c) {
      next_tick = std::min(next_tick, ctrls[c]->next_event(now));
      next_tick = std::min(next_tick, extra.next_event(c, now));
    }
    if (cfg.tick_every_cycle) next_tick = now + 1;  // reference mode for tests: no tick skipped
    int64_t next_offer = kNever;
    if (i < n && ctrls[head_ch]->can_accept(head)) {
      int64_t t = now + 1;
      if (arrival) t = std::max(t, arrival[i]);
      next_offer = clock_at_or_after(t);
    }
    if (next_offer < next_tick) {
      now = next_offer;  // ticks in between are idle
      continue;
    }
    if (next_tick >= kNever) {
      if (i < n) throw std::runtime_error("simulation deadlock: request cannot be accepted and nothing can issue");
      throw std::runtime_error("simulation deadlock: commands are queued but nothing can issue");
    }
    now = next_tick;
    for (size_t c = 0; c < nch; ++c) {
      extra.before_tick(c, now);
      ctrls[c]->tick(now);
    }
    ++ticks;
  }
  res.ticks_simulated = ticks;
}

}  // namespace jitq::dram

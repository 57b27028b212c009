// One channel's memory controller: read / write / active / priority buffers, FR-FCFS scheduling,
// write-drain watermarks, open or closed row policy, all-bank or per-bank refresh, and the command
// buses of the standard (one shared bus; or a row and a column bus, HBM3 with column commands on
// rising clock edges). Scheduling semantics follow Ramulator2's controllers (see
// docs/dram-simulator.md); the data structures are fixed-size and the hot path has no virtual calls.
//
// Finding the next event: the read and write queues are summarized by a ReadyIndex (per command, a
// min-tree of ready ticks over the bank hierarchy, see ready_index.hpp); the active queue, a few
// requests, is scanned. Every queued request also keeps a lower bound of its ready tick, so the
// FR-FCFS picks and the active-queue scan look up only requests whose bound has passed (or could
// lower the minimum). A reference mode (ControllerConfig::exact_scan) looks every request up instead.
//
// PIM hook: `priority_send()` injects a command stream (any command id of the spec, e.g. all-bank PIM
// commands added by a standard extension) that is served in order ahead of reads and writes, and
// `set_arbiter()` lets another request source decide per tick whether normal requests may be
// scheduled (blocking / interleave / bank-partition policies).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "jitq/dram/device.hpp"
#include "jitq/dram/ready_index.hpp"
#include "jitq/dram/spec.hpp"

namespace jitq::dram {

// "No event": the tick that next_event() functions (controllers, PIM drivers) return when nothing is
// pending; far enough from INT64_MAX that adding latencies to it cannot overflow.
inline constexpr int64_t kNever = INT64_MAX / 4;

enum class RowPolicy : unsigned char { Open, Closed };
enum class RefreshPolicy : unsigned char { None, AllBank, PerBank };

struct ControllerConfig {
  int read_buffer_size = 32;
  int write_buffer_size = 32;
  double wr_low_watermark = 0.2;
  double wr_high_watermark = 0.8;
  RowPolicy row_policy = RowPolicy::Open;
  RefreshPolicy refresh = RefreshPolicy::AllBank;
  bool read_forwarding = true;  // reads to a queued write's address are served from the queue
  // Reference scheduler for tests: every queued request looked up exactly at every pick, in arrival
  // order, without the cached bounds or the ready index (same choices, slower).
  bool exact_scan = false;
};

struct Request {
  uint64_t addr = 0;  // full byte address (write forwarding / coalescing key)
  int64_t arrive = 0;
  int32_t row = -1;
  int32_t col = -1;
  NodeAddr at{};   // flat node index per level; -1 below an all-bank command's scope
  int32_t bank = -1;  // flat bank id (== at.node[bank level]); -1 for all-bank commands
  int16_t final_cmd = -1;
  int16_t cmd = -1;
  int8_t kind = 0;  // 0 read, 1 write, 2 maintenance / injected command
  bool stat_done = false;
  int32_t tag = -1;  // caller's id for injected commands (reported to the completion callback)
};

// A request queue in arrival order, of fixed capacity. Requests sit in fixed slots, with flat per-slot
// arrays of what the scheduler's counts read: bank and row (counted when a bank's open row changes) and
// address (write forwarding, with a counting filter in front). In arrival order beside the slot list:
// each request's bank and `lb`, the ready tick the scheduler last computed for its next command. Ready
// ticks only grow and a request's next command changes only with its bank's open row, so lb is a lower
// bound until that row changes, when `row_changed` resets it. Positions (operator[], erase, lb) count in
// arrival order.
class RequestQueue {
 public:
  static constexpr int64_t kVoid = INT64_MIN / 4;     // a bound that says nothing
  static constexpr int64_t kPastEnd = INT64_MAX / 4;  // padding past the last request: never a candidate
  // Sets the capacity. Requests live in fixed slots (never moved); `order_` lists the slots in arrival
  // order, so taking a request out of the middle shifts a 2-byte slot id, a 4-byte bank and an 8-byte
  // bound per younger request, not 64-byte requests.
  void reserve(size_t n) {
    if (n > 65535) throw std::invalid_argument("request queues hold at most 65535 requests");
    req_.assign(n, Request{});
    bank_.assign(n, -1);
    row_.assign(n, -1);
    addr_.assign(n, 0);
    order_.clear();
    order_.reserve(n);
    // padded to whole SIMD blocks; positions past the last request hold no bank and a bound never passed
    const size_t padded = (n + 4) / 4 * 4;
    obank_.assign(padded, -1);
    lb_.assign(padded, kPastEnd);
    free_.clear();
    for (size_t s = n; s-- > 0;) free_.push_back(static_cast<uint16_t>(s));
  }
  size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  Request& operator[](size_t i) { return req_[order_[i]]; }
  const Request& operator[](size_t i) const { return req_[order_[i]]; }
  void push(const Request& r) {
    if (free_.empty()) throw std::logic_error("RequestQueue::push: queue full");
    const uint16_t s = free_.back();
    free_.pop_back();
    req_[s] = r;
    bank_[s] = r.bank;
    row_[s] = r.row;
    addr_[s] = r.addr;
    order_.push_back(s);
    obank_[order_.size() - 1] = r.bank;
    lb_[order_.size() - 1] = kVoid;
    ++filter_[hash(r.addr)];
  }
  void erase(size_t i) {
    const uint16_t s = order_[i];
    --filter_[hash(addr_[s])];
    bank_[s] = -1;  // a free slot matches no bank (count_at scans every slot)
    const size_t n = order_.size();
    order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(i));
    std::memmove(&obank_[i], &obank_[i + 1], (n - 1 - i) * sizeof(int32_t));
    std::memmove(&lb_[i], &lb_[i + 1], (n - 1 - i) * sizeof(int64_t));
    obank_[n - 1] = -1;
    lb_[n - 1] = kPastEnd;
    free_.push_back(s);
  }
  bool contains_addr(uint64_t a) const {
    if (filter_[hash(a)] == 0) return false;  // counting filter: most misses end here
    bool found = false;
    for (uint16_t s : order_) found |= (addr_[s] == a);
    return found;
  }
  int64_t lb(size_t i) const { return lb_[i]; }
  void set_lb(size_t i, int64_t t) { lb_[i] = t; }
  // Bit k set: the request at position first + k (k < 64) has lb <= clk, i.e. may be ready. No branches:
  // lb <= clk exactly when lb - (clk + 1) is negative (bounds stay within +-2^62, so no overflow).
  uint64_t candidates(size_t first, int64_t clk) const {
    const size_t n = std::min<size_t>(64, order_.size() - first);
    const int64_t* lb = lb_.data() + first;
    uint64_t m = 0;
#if defined(__SSE2__)
    const __m128i c1 = _mm_set1_epi64x(clk + 1);
    for (size_t k = 0; k < n; k += 2) {
      const __m128i d = _mm_sub_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lb + k)), c1);
      m |= static_cast<uint64_t>(_mm_movemask_pd(_mm_castsi128_pd(d))) << k;
    }
    return n == 64 ? m : m & ((uint64_t{1} << n) - 1);
#else
    for (size_t k = 0; k < n; ++k) m |= static_cast<uint64_t>(lb[k] <= clk) << k;
    return m;
#endif
  }
  // The bank's open row changed: its requests' bounds are void. No branches.
  void row_changed(int bank) {
    const size_t n = order_.size();
    const int32_t* bk = obank_.data();
    int64_t* lb = lb_.data();
#if defined(__SSE2__)
    const __m128i wb = _mm_set1_epi32(bank), vd = _mm_set1_epi64x(kVoid);
    for (size_t i = 0; i < n; i += 4) {  // 4 banks, then their bounds two by two
      const __m128i eq = _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bk + i)), wb);
      const __m128i e[2] = {_mm_unpacklo_epi32(eq, eq), _mm_unpackhi_epi32(eq, eq)};
      for (int h = 0; h < 2; ++h) {
        __m128i* p = reinterpret_cast<__m128i*>(lb + i + 2 * h);
        _mm_storeu_si128(p, _mm_or_si128(_mm_andnot_si128(e[h], _mm_loadu_si128(p)), _mm_and_si128(e[h], vd)));
      }
    }
#else
    for (size_t i = 0; i < n; ++i) lb[i] = bk[i] == bank ? kVoid : lb[i];
#endif
  }
  // Every bound is void (an all-bank command changed rows).
  void reset_lbs() { std::fill(lb_.begin(), lb_.begin() + static_cast<std::ptrdiff_t>(order_.size()), kVoid); }
  // How many queued requests are at (bank, row); no branches (banks and rows are random).
  int count_at(int bank, int row) const {
    const size_t n = bank_.size();
    const int32_t* bk = bank_.data();
    const int32_t* rw = row_.data();
    int hits = 0;
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i wb = _mm_set1_epi32(bank), wr = _mm_set1_epi32(row);
    for (; i + 4 <= n; i += 4) {
      const __m128i eq = _mm_and_si128(_mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bk + i)), wb),
                                       _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rw + i)), wr));
      // four match bits; a nibble table, as the baseline x86-64 target has no popcnt instruction
      hits += (0x4332322132212110ull >> (4 * _mm_movemask_ps(_mm_castsi128_ps(eq)))) & 0xF;
    }
#endif
    for (; i < n; ++i) hits += (bk[i] == bank) & (rw[i] == row);
    return hits;
  }
  // Iteration in arrival order.
  template <class Q, class R>
  class Iter {
   public:
    Iter(Q* q, size_t i) : q_(q), i_(i) {}
    R& operator*() const { return (*q_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }

   private:
    Q* q_;
    size_t i_;
  };
  Iter<RequestQueue, Request> begin() { return {this, 0}; }
  Iter<RequestQueue, Request> end() { return {this, size()}; }
  Iter<const RequestQueue, const Request> begin() const { return {this, 0}; }
  Iter<const RequestQueue, const Request> end() const { return {this, size()}; }

 private:
  std::vector<Request> req_;  // by slot
  std::vector<int32_t> bank_, row_;
  std::vector<uint64_t> addr_;
  std::vector<uint16_t> order_;  // slots in arrival order
  std::vector<int32_t> obank_;   // in arrival order: bank (-1 past the last request)
  std::vector<int64_t> lb_;      // in arrival order: ready-tick lower bound (kPastEnd past the last)
  std::vector<uint16_t> free_;   // free slots (last freed reused first)
  static size_t hash(uint64_t a) { return static_cast<size_t>((a >> 5) ^ (a >> 13) ^ (a >> 21)) & 255; }
  std::array<uint16_t, 256> filter_{};
};

struct ChannelStats {
  uint64_t reads = 0, writes = 0;
  uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;
  uint64_t read_forwarded = 0, write_coalesced = 0;
  std::vector<uint64_t> cmd_counts;
  std::vector<int32_t> read_latency;  // ticks, one per read served
  int64_t last_completion = 0;        // tick
};

// CSV command log: cycle,command,channel,pseudochannel,bankgroup,bank,row,column,rank,sid
class CommandLog {
 public:
  CommandLog(const std::string& path, const Spec& spec);
  ~CommandLog();
  CommandLog(const CommandLog&) = delete;
  CommandLog& operator=(const CommandLog&) = delete;
  void write(int64_t clk, int cmd, int channel, const NodeAddr& at, int row, int col);
  void close();

 private:
  void flush();
  const Spec* spec_;
  std::FILE* file_ = nullptr;
  std::vector<char> buf_;
  size_t used_ = 0;
  int pc_level_ = -1, rank_level_ = -1, sid_level_ = -1, bg_level_ = -1;
};

class Controller {
 public:
  Controller(const Spec& spec, const ControllerConfig& cfg, int channel, CommandLog* log, ChannelStats* stats);

  // Frontend side (Ramulator's send()): true if the request was taken (queued, forwarded or coalesced).
  bool can_accept(const Request& req) const;
  bool send(Request req, int64_t clk);
  // Injects a command (maintenance / PIM) into the in-order priority queue.
  void priority_send(const Request& req);
  // Simulates tick `clk` (the controller clock after advancing).
  void tick(int64_t clk);
  // Re-evaluates the write-drain mode on the queues as they stand. The request loop calls it after every
  // batch of offers and every tick, so the mode follows each queue change as Ramulator2's per-cycle
  // evaluation does, and results do not depend on which idle ticks the loop skips.
  void settle_mode() { write_mode_ = write_mode_after(write_mode_); }
  // A lower bound on the next tick (> clk) at which this controller could issue a command.
  int64_t next_event(int64_t clk);
  bool idle() const { return read_.empty() && write_.empty() && active_.empty(); }
  bool priority_empty() const { return priority_.empty(); }
  std::size_t priority_size() const { return priority_.size(); }  // PIM hook (harness/memsim/pim)

  // Called after a command from the priority queue completes (its final command issued).
  std::function<void(const Request&, int64_t)> on_priority_done;
  // If set and returning false at a tick, reads and writes are not scheduled at that tick.
  std::function<bool(int64_t)> allow_rw;

  const Device& device() const { return device_; }

 private:
  enum class Slot : unsigned char { Any, Column, Row };
  struct Pick {
    RequestQueue* buf = nullptr;  // nullptr: the priority queue's front
    int idx = -1;                 // the request's position in buf (arrival order)
    explicit operator bool() const { return idx >= 0; }
  };

  int preq(const Request& r) const;
  bool eligible(const Request& r, Slot slot) const {
    if (slot == Slot::Any) return true;
    const bool column = column_[r.cmd];
    if (spec_->controller != ControllerKind::DualBusRisingEdge || rising_) return (slot == Slot::Column) == column;
    return eligible_falling(r, slot);
  }
  bool eligible_falling(const Request& r, Slot slot) const;
  bool would_close_active(const Request& r, int cmd) const {
    if (!closing_[cmd] || active_.empty()) return false;
    const int bank = r.bank;
    if (bank >= 0) return active_per_bank_[bank] > 0;
    return would_close_active_all(r);
  }
  bool would_close_active_all(const Request& r) const;
  int64_t ready(const Request& r, int cmd) const { return device_.ready_time(cmd, r.at); }
  // The ready tick now of the request at position i of q (its command set), kept as its cached bound.
  int64_t look_up(RequestQueue& q, size_t i) {
    const int64_t t = ready(q[i], q[i].cmd);
    q.set_lb(i, t);
    return t;
  }
  // The next command of a queued (bank-scoped) read or write, from its bank's open row.
  int cmd_for(const Request& r) const {
    const int open = device_.open_row(r.bank);
    return open < 0 ? spec_->id.ACT : (open == r.row ? r.final_cmd : spec_->id.PREpb);
  }
  // Queue ids: read and write are in the ready index; the active queue is scanned.
  enum : int { kReadQ = 0, kWriteQ = 1, kActiveQ = 2 };
  int queue_id(const RequestQueue* q) const { return q == &read_ ? kReadQ : (q == &write_ ? kWriteQ : kActiveQ); }
  Pick pick_active(Slot slot);
  Pick pick_queued(RequestQueue& buf, Slot slot);
  Pick pick_exact(RequestQueue& buf, Slot slot, bool check_close, bool oldest_arrival);
  // After a bank's open row changed: the queued requests there wait on another command now.
  void recount_bank(int bank);
  void recount_all();
  int64_t active_bound(int64_t limit);
  Pick pick_priority(Slot slot);
  Pick pick_rw(Slot slot);
  bool try_slot(Slot slot);
  void issue(Pick p);
  void refresh_tick();
  bool write_mode_after(bool mode) const;
  // Earliest tick at which `cmd` could issue for `r` (rounded to a rising edge where required).
  int64_t earliest(const Request& r, int cmd) const { return on_edge(cmd, ready(r, cmd)); }
  // t, or the next tick if `cmd` issues only on rising (odd) edges and t is not one; no branch.
  int64_t on_edge(int cmd, int64_t t) const { return t + ((rising_only_[cmd] & ~t) & 1); }
  bool buffered_write(uint64_t addr) const;

  const Spec* spec_;
  ControllerConfig cfg_;
  int channel_;
  Device device_;
  CommandLog* log_;
  ChannelStats* stats_;
  int64_t clk_ = 0;

  RequestQueue read_, write_, active_;
  std::vector<Request> priority_;
  std::vector<int> active_per_bank_;
  ReadyIndex index_;  // per queue and command: when a queued request could issue next
  std::vector<unsigned char> closing_, column_, rising_only_;  // per command
  int active_cap_;
  bool write_mode_ = false;
  double wr_low_, wr_high_;

  int64_t next_refresh_ = 0;
  int64_t refresh_interval_ = 0;
  std::vector<int> refresh_rr_;  // per scope node: next bank to refresh (per-bank policy)

  // HBM3 rising/falling edge pairing state
  bool rising_ = true;
  int pair_cmd_ = -1, pair_pc_ = -1, pair_bank_ = -1;
  int64_t pair_edge_ = -1;
  int pc_level_ = 1;
};

}  // namespace jitq::dram

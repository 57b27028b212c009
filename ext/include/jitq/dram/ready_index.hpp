// When can a queued request next issue? For each of a controller's read / write queues and each command
// a queued request can wait on (ACT, PREpb, RD, WR: a "lane"), a min-tree over the channel's node
// hierarchy: a node holds the earliest tick at which that command could issue for any request queued
// below it, i.e. the minimum over those requests of the maximum of the ready ticks along their path
// (Device's per-node tables). max distributes over min, so a node is max(own ready tick, min over its
// children), and a bank leaf is its own ready tick when a request there waits on the command.
//
// Why: FR-FCFS queues are mostly not ready, and rescanning every queued request after every command
// (the next-event search) costs a data-dependent branch per request. Here a command refreshes only the
// lanes its timing rows reach, from the deepest level they moved, along its bank's path (plus the sibling
// nodes of sibling rows); the next event is read at the roots.
//
// Invariant: presence (which banks hold a request waiting on which command) is always counted; node
// values are exact after a refresh, and since ready ticks only grow, a value not yet refreshed is a lower
// bound. So the roots never overshoot the next issue tick, which is all the request loop needs. Only one
// queue is kept fresh at a time (the one the scheduler reads: the controller serves reads or drains
// writes); the other is rebuilt from its counts when it is next read.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "jitq/dram/device.hpp"
#include "jitq/dram/spec.hpp"

namespace jitq::dram {

class ReadyIndex {
 public:
  static constexpr int kSlots = 4;                   // ACT, PREpb, RD, WR: the commands a request waits on
  static constexpr int kMaxQueues = 8;
  static constexpr int64_t kAbsent = INT64_MAX / 4;  // no request below this node (== kNever)
  static constexpr unsigned kAllSlots = (1u << kSlots) - 1;

  // `close_checked[q]`: queue q's precharges wait while their bank has an active request (FR-FCFS does
  // not close a row with pending hits), read through `active_per_bank`.
  ReadyIndex(const Spec& spec, const Device& dev, std::vector<unsigned char> close_checked, const int* active_per_bank);

  // The slot of a command, -1 if queued requests never wait on it.
  int slot(int cmd) const { return slot_of_cmd_[cmd]; }
  unsigned row_slots() const { return (1u << kAct) | (1u << kPre); }
  unsigned column_slots() const { return (1u << kRd) | (1u << kWr); }

  // Presence counting. add refreshes the bank's path at once when presence flips (a request arrives
  // between commands); the *_count variants defer that to the next refresh_bank of the same bank (the
  // issue path).
  void add(int q, int cmd, int bank) {
    if (cnt_[cnt_at(q, bank) + slot(cmd)]++ == 0 && fresh_ == q) walk(bank, bl_);
  }
  void add_count(int q, int cmd, int bank) {
    ++cnt_[cnt_at(q, bank) + slot(cmd)];
    dirty_ = true;
  }
  void remove_count(int q, int cmd, int bank) {
    --cnt_[cnt_at(q, bank) + slot(cmd)];
    dirty_ = true;
  }
  // A bank's open row changed: of its `total` queued requests in q, `hits` (if open) wait on the access
  // `final_cmd`, the others on PREpb (open) or ACT (closed).
  void set_counts(int q, int bank, bool open, int hits, int final_cmd) {
    uint16_t* c = &cnt_[cnt_at(q, bank)];
    const int total = c[0] + c[1] + c[2] + c[3];
    c[0] = c[1] = c[2] = c[3] = 0;
    if (open) {
      c[kPre] = static_cast<uint16_t>(total - hits);
      c[slot(final_cmd)] = static_cast<uint16_t>(hits);
    } else {
      c[kAct] = static_cast<uint16_t>(total);
    }
    dirty_ = true;
  }
  // The bank's active-request count changed: its precharges in close-checked queues may (un)block.
  void mark_gate() { dirty_ = true; }
  void clear_counts();

  // After `cmd` issued at `bank` (bank-scoped): the sibling nodes its timing rows reach, then the path
  // up from the deepest level whose ready ticks it moved (from the bank if presence changed there).
  void refresh_bank(int bank, int cmd);
  // After an all-bank command, or any change too wide to track: every node of the fresh queue.
  void refresh_all();

  // Earliest tick (lower bound) at which anything in queue q could issue, rounded up to a rising edge
  // for commands restricted to them.
  int64_t next(int q) {
    use(q);
    const int64_t* r = &val_[static_cast<size_t>(q) * nodes_ * kSlots];  // the root's slots
    int64_t best = kAbsent;
    for (int k = 0; k < kSlots; ++k) {
      int64_t t = r[k];
      t += (rising_[k] & ~t) & 1;
      best = t < best ? t : best;
    }
    return best;
  }
  // The slots (bit k) in which something in queue q could issue at `clk`.
  unsigned ready_slots(int q, int64_t clk) {
    use(q);
    const int64_t* r = &val_[static_cast<size_t>(q) * nodes_ * kSlots];
    unsigned m = 0;
    for (int k = 0; k < kSlots; ++k) m |= static_cast<unsigned>(r[k] <= clk) << k;
    return m;
  }

 private:
  enum : int { kAct = 0, kPre = 1, kRd = 2, kWr = 3 };
  size_t cnt_at(int q, int bank) const { return (static_cast<size_t>(q) * nbanks_ + bank) * kSlots; }
  // Makes q the fresh queue (rebuilding it if it was not); the others go stale.
  void use(int q) {
    if (fresh_ != q) make_fresh(q);
  }
  void make_fresh(int q);
  // Recomputes the four slots of a bank leaf / an inner node of the fresh queue's trees.
  void leaf(int n) {
    const int64_t* own = ready_[bl_] + static_cast<size_t>(n) * ncmd_;
    const uint16_t* c = &cnt_[cnt_at(fresh_, n)];
    int64_t* v = &val_[qbase_ + (offset_[bl_] + n) * kSlots];
    const int64_t blocked = -static_cast<int64_t>(close_checked_[fresh_] & (active_per_bank_[n] > 0));
    for (int k = 0; k < kSlots; ++k) {  // masks, not branches: presence is random
      int64_t open = -static_cast<int64_t>(c[k] > 0);
      if (k == kPre) open &= ~blocked;
      v[k] = (own[cmd_of_slot_[k]] & open) | (kAbsent & ~open);
    }
  }
  template <int F>
  void inner(int level, int n) {
    const int64_t* own = ready_[level] + static_cast<size_t>(n) * ncmd_;
    const int fan = F > 0 ? F : size_[level + 1];
    const int64_t* ch = &val_[qbase_ + (offset_[level + 1] + static_cast<size_t>(n) * fan) * kSlots];
    int64_t* v = &val_[qbase_ + (offset_[level] + n) * kSlots];
    for (int k = 0; k < kSlots; ++k) {
      int64_t m = ch[k];
      for (int i = 1; i < fan; ++i) m = ch[i * kSlots + k] < m ? ch[i * kSlots + k] : m;
      const int64_t o = own[cmd_of_slot_[k]];
      v[k] = o > m ? o : m;
    }
  }
  void node(int level, int n) {
    if (level == bl_) return leaf(n);
    switch (size_[level + 1]) {  // the fan-out, a constant per level: unrolled minima
      case 1: return inner<1>(level, n);
      case 2: return inner<2>(level, n);
      case 4: return inner<4>(level, n);
      default: return inner<0>(level, n);
    }
  }
  // The path from `bank`'s node at `from` up to the root.
  void walk(int bank, int from) {
    const int32_t* a = &anc_[static_cast<size_t>(bank) * kMaxLevels];
    for (int l = from; l >= 0; --l) node(l, a[l]);
  }

  const Spec* spec_;
  int nq_, ncmd_, bl_, nbanks_;
  size_t nodes_ = 0;                         // nodes per tree
  std::array<size_t, kMaxLevels> offset_{};  // first node of each level within a tree
  std::array<int, kMaxLevels> size_{};       // children per node of the level above
  std::array<const int64_t*, kMaxLevels> ready_{};
  std::array<int, kSlots> cmd_of_slot_{};
  std::array<unsigned char, kSlots> rising_{};
  std::vector<int> slot_of_cmd_;
  std::vector<unsigned char> close_checked_;
  const int* active_per_bank_;
  std::vector<int32_t> anc_;   // [bank * kMaxLevels + level]: the bank's node at each level
  std::vector<int64_t> val_;   // [(q * nodes_ + offset_[level] + node) * kSlots + slot]
  std::vector<uint16_t> cnt_;  // [(q * nbanks_ + bank) * kSlots + slot]
  // Per issued command: the deepest level whose ready ticks its rows move (-1: none), and the levels
  // of its sibling rows.
  std::vector<int> start_;
  std::vector<std::vector<int>> sib_levels_;
  bool dirty_ = false;  // presence changed at the bank being issued to
  int fresh_ = -1;      // the queue whose trees are maintained
  size_t qbase_ = 0;    // its first value
};

}  // namespace jitq::dram

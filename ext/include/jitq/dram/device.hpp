// Timing and bank state of one channel. For every node of the hierarchy (channel, pseudo-channel or
// rank, SID, bank group, bank) and every command, the earliest tick at which that command may issue
// there; issuing a command pushes those ticks forward by the spec's table (a node's own rows, and the
// `sibling` rows for the other nodes under the same parent). A command's ready tick is the max over
// the nodes on its path (over all covered nodes for an all-bank command). Ready ticks never decrease,
// which lets the controller cache them as lower bounds. Flat arrays, no allocation after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "jitq/dram/spec.hpp"

namespace jitq::dram {

// A command's target: the flat node index at each level (-1 below the address of an all-bank command).
struct NodeAddr {
  int node[kMaxLevels];
};

class Device {
 public:
  explicit Device(const Spec& spec);

  // Earliest tick at which `cmd` may issue at `addr` (all levels; all covered banks for all-bank commands).
  int64_t ready_time(int cmd, const NodeAddr& addr) const {
    if (addr.node[bank_level_] >= 0) {
      int64_t t = ready_[0][cmd];
      for (int l = 1; l <= bank_level_; ++l) {
        int64_t v = ready_[l][static_cast<size_t>(addr.node[l]) * ncmd_ + cmd];
        t = v > t ? v : t;
      }
      return t;
    }
    return ready_time_all(cmd, addr);
  }
  // Raw view of one level's ready ticks, [node * ncmd + cmd] (ReadyIndex reads them in its refreshes).
  const int64_t* level_ready(int level) const { return ready_[level].data(); }
  // Applies the timing table and the command's effect on bank state.
  void issue(int cmd, const NodeAddr& addr, int row, int64_t clk);

  int open_row(int bank) const { return open_row_[bank]; }
  // True if any bank covered by `addr` at `level` and below is open.
  bool any_open(const NodeAddr& addr, int level) const;

 private:
  int64_t ready_time_all(int cmd, const NodeAddr& addr) const;
  void update_node(int level, int node, int cmd, int64_t clk);
  void update_sibling(int level, int node, int cmd, int64_t clk);
  void set_row(int bank, int row) { open_row_[bank] = row; }

  const Spec* spec_;
  int ncmd_;
  int bank_level_;
  std::vector<int64_t> ready_[kMaxLevels];  // [node * ncmd + cmd]
  std::vector<int64_t> hist_[kMaxLevels];   // [(node * ncmd + cmd) * kMaxWindow + k], most recent first
  std::vector<int32_t> open_row_;           // per bank, -1 = closed
};

}  // namespace jitq::dram

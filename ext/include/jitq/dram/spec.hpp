// A standard resolved against an organization and timing values: every constraint becomes a number
// of ticks in flat tables indexed [level][preceding command], ready for the device's hot path.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jitq/dram/standard.hpp"

namespace jitq::dram {

inline constexpr int kMaxLevels = 6;   // Channel .. Bank
inline constexpr int kMaxWindow = 8;   // longest rolling window (tFAW uses 4)

struct Organization {
  // Children per node for each level below Channel, in the standard's level order
  // (e.g. HBM3: pseudochannels, sids, bankgroups, banks).
  std::vector<int> level_sizes;
  int rows = 0;
  int columns = 0;        // columns as the standard counts them (incl. the prefetch/burst)
  int prefetch = 8;       // internal prefetch (burst length)
  int channel_width = 0;  // bits per (pseudo-)channel data bus
};

struct TimingEntry {
  int follow;    // following command id
  int latency;   // ticks
  int window;    // 1 = most recent preceding command
  bool sibling;  // applies to the other nodes under the same parent
};

struct CommandInfo {
  std::string name;
  Bus bus;
  Scope scope;
  Effect effect;
  int ticks;  // bus occupancy in ticks
};

struct Spec {
  std::string standard;
  ControllerKind controller = ControllerKind::SingleBus;
  int n_levels = 0;      // Channel .. Bank
  int bank_level = 0;    // == n_levels - 1
  int scope_level = 0;   // all-bank commands address down to this level
  int bankgroup_level = -1;
  std::array<int, kMaxLevels> size{};   // children per parent at each level (size[0] = 1)
  std::array<int, kMaxLevels> count{};  // nodes per channel at each level
  std::vector<std::string> level_names;
  int rows = 0;
  int column_accesses = 0;  // column commands per row (columns / prefetch)
  int tx_bytes = 0;         // bytes per column access
  int channel_width = 0;
  int tick_mult = 1;
  int tCK_ps = 0;
  double tick_ps = 0;
  int read_latency = 0;  // ticks from RD issue to data returned
  int64_t nREFI = 0;     // ticks
  int64_t nREFIpb = 0;   // ticks (0 if the standard has no per-bank refresh)
  std::map<std::string, int64_t> timing_cycles;  // as configured (clocks)

  std::vector<CommandInfo> cmds;
  // entries for (level, preceding) are entries[begin[level*ncmd+p] .. begin[level*ncmd+p+1])
  std::vector<TimingEntry> entries;
  std::vector<int> begin;
  // the sibling rows only, same indexing
  std::vector<TimingEntry> sib_entries;
  std::vector<int> sib_begin;
  std::vector<unsigned char> window_len;   // [level*ncmd+p]: history length kept (0 = none)
  // Per preceding command, the window-1 non-sibling rows of every level whose rows are all window-1
  // (the common case, applied in one flat loop); levels with rolling windows or sibling rows listed.
  struct FlatEntry {
    int16_t level;
    int16_t follow;
    int32_t latency;
  };
  std::vector<FlatEntry> flat;
  std::vector<int> flat_begin;                      // [p] .. [p+1]
  std::vector<std::vector<int>> windowed_levels;    // [p]
  std::vector<std::vector<int>> sibling_levels;     // [p]
  std::vector<unsigned char> has_sibling;  // [level*ncmd+p]

  struct Ids {
    int ACT = -1, PREpb = -1, PREab = -1, RD = -1, WR = -1, RDA = -1, WRA = -1, REFab = -1, REFpb = -1;
  } id;

  int ncmd() const { return static_cast<int>(cmds.size()); }
  int find_command(const std::string& name) const;  // -1 if absent
  int64_t capacity_bytes() const;                   // one channel
};

// Throws std::invalid_argument naming the missing parameter / bad value.
Spec resolve_spec(const StandardDef& def, const Organization& org, const std::map<std::string, int64_t>& timing,
                  int tCK_ps);

// Evaluates "nCWL + nBL + 2 - nCWL" over `values`; throws naming an unknown parameter.
int64_t eval_latency(const std::string& expr, const std::map<std::string, int64_t>& values);

}  // namespace jitq::dram

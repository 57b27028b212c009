#include "jitq/dram/device.hpp"

#include <algorithm>

namespace jitq::dram {

Device::Device(const Spec& spec) : spec_(&spec), ncmd_(spec.ncmd()), bank_level_(spec.bank_level) {
  for (int l = 0; l < spec.n_levels; ++l) {
    ready_[l].assign(static_cast<size_t>(spec.count[l]) * ncmd_, INT64_MIN / 4);
    hist_[l].assign(static_cast<size_t>(spec.count[l]) * ncmd_ * kMaxWindow, -1);
  }
  open_row_.assign(spec.count[spec.bank_level], -1);
}

int64_t Device::ready_time_all(int cmd, const NodeAddr& addr) const {
  int64_t t = INT64_MIN / 4;
  for (int l = 0; l < spec_->n_levels; ++l) {
    int n = addr.node[l];
    if (n >= 0) {
      t = std::max(t, ready_[l][static_cast<size_t>(n) * ncmd_ + cmd]);
      continue;
    }
    // Unaddressed level: every node under the deepest addressed ancestor.
    int parent_level = l - 1;
    while (addr.node[parent_level] < 0) --parent_level;
    int span = spec_->count[l] / spec_->count[parent_level];
    int first = addr.node[parent_level] * span;
    for (int k = first; k < first + span; ++k) t = std::max(t, ready_[l][static_cast<size_t>(k) * ncmd_ + cmd]);
  }
  return t;
}

void Device::update_node(int level, int node, int cmd, int64_t clk) {
  const size_t key = static_cast<size_t>(level) * ncmd_ + cmd;
  const int wl = spec_->window_len[key];
  if (wl == 0) return;
  int64_t* r = &ready_[level][static_cast<size_t>(node) * ncmd_];
  const TimingEntry* e = spec_->entries.data() + spec_->begin[key];
  const TimingEntry* end = spec_->entries.data() + spec_->begin[key + 1];
  if (wl == 1) {
    for (; e != end; ++e) {
      const int64_t t = clk + e->latency;
      if (r[e->follow] < t) r[e->follow] = t;
    }
    return;
  }
  int64_t* h = &hist_[level][(static_cast<size_t>(node) * ncmd_ + cmd) * kMaxWindow];
  for (int k = wl - 1; k > 0; --k) h[k] = h[k - 1];
  h[0] = clk;
  for (; e != end; ++e) {
    const int64_t past = h[e->window - 1];
    if (past < 0) continue;
    const int64_t t = past + e->latency;
    if (r[e->follow] < t) r[e->follow] = t;
  }
}

void Device::update_sibling(int level, int node, int cmd, int64_t clk) {
  const size_t key = static_cast<size_t>(level) * ncmd_ + cmd;
  int64_t* r = &ready_[level][static_cast<size_t>(node) * ncmd_];
  for (int i = spec_->sib_begin[key]; i < spec_->sib_begin[key + 1]; ++i) {
    const TimingEntry& t = spec_->sib_entries[i];
    r[t.follow] = std::max(r[t.follow], clk + t.latency);
  }
}

void Device::issue(int cmd, const NodeAddr& addr, int row, int64_t clk) {
  const Spec& s = *spec_;
  if (addr.node[bank_level_] >= 0) {
    // Single-bank command: the flat list of window-1 rows, then rolling windows and siblings.
    int64_t* base[kMaxLevels];
    for (int l = 0; l <= bank_level_; ++l) base[l] = ready_[l].data() + static_cast<size_t>(addr.node[l]) * ncmd_;
    const Spec::FlatEntry* e = s.flat.data() + s.flat_begin[cmd];
    const Spec::FlatEntry* end = s.flat.data() + s.flat_begin[cmd + 1];
    for (; e != end; ++e) {
      int64_t& r = base[e->level][e->follow];
      const int64_t t = clk + e->latency;
      r = r < t ? t : r;
    }
    for (int l : s.windowed_levels[cmd]) update_node(l, addr.node[l], cmd, clk);
    for (int l : s.sibling_levels[cmd]) {
      const int n = addr.node[l];
      const int first = (n / s.size[l]) * s.size[l];
      for (int k = first; k < first + s.size[l]; ++k)
        if (k != n) update_sibling(l, k, cmd, clk);
    }
    const int b = addr.node[bank_level_];
    switch (s.cmds[cmd].effect) {
      case Effect::Activate:
      case Effect::ActivateAll:
        set_row(b, row);
        break;
      case Effect::PrechargeBank:
      case Effect::PrechargeAll:
      case Effect::ReadAP:
      case Effect::WriteAP:
        set_row(b, -1);
        break;
      default:
        break;
    }
    return;
  }
  int deepest = 0;
  for (int l = 0; l < s.n_levels; ++l) {
    int n = addr.node[l];
    if (n >= 0) {
      deepest = l;
      update_node(l, n, cmd, clk);
      if (l > 0 && s.has_sibling[static_cast<size_t>(l) * ncmd_ + cmd]) {
        int first = (n / s.size[l]) * s.size[l];
        for (int k = first; k < first + s.size[l]; ++k)
          if (k != n) update_sibling(l, k, cmd, clk);
      }
    } else {
      int span = s.count[l] / s.count[deepest];
      int first = addr.node[deepest] * span;
      for (int k = first; k < first + span; ++k) update_node(l, k, cmd, clk);
    }
  }
  // Effect on bank state.
  int bl = s.bank_level;
  auto for_banks = [&](auto&& f) {
    if (addr.node[bl] >= 0) {
      f(addr.node[bl]);
    } else {
      int span = s.count[bl] / s.count[deepest];
      int first = addr.node[deepest] * span;
      for (int k = first; k < first + span; ++k) f(k);
    }
  };
  switch (s.cmds[cmd].effect) {
    case Effect::Activate:
    case Effect::ActivateAll:
      for_banks([&](int b) { set_row(b, row); });
      break;
    case Effect::PrechargeBank:
    case Effect::PrechargeAll:
    case Effect::ReadAP:
    case Effect::WriteAP:
      for_banks([&](int b) { set_row(b, -1); });
      break;
    default:
      break;
  }
}

bool Device::any_open(const NodeAddr& addr, int level) const {
  const Spec& s = *spec_;
  int bl = s.bank_level;
  if (addr.node[bl] >= 0) return open_row_[addr.node[bl]] >= 0;
  int span = s.count[bl] / s.count[level];
  int first = addr.node[level] * span;
  for (int k = first; k < first + span; ++k)
    if (open_row_[k] >= 0) return true;
  return false;
}

}  // namespace jitq::dram

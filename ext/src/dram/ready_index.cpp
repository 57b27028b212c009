#include "jitq/dram/ready_index.hpp"

#include <algorithm>
#include <stdexcept>

namespace jitq::dram {

ReadyIndex::ReadyIndex(const Spec& spec, const Device& dev, std::vector<unsigned char> close_checked,
                       const int* active_per_bank)
    : spec_(&spec),
      nq_(static_cast<int>(close_checked.size())),
      ncmd_(spec.ncmd()),
      bl_(spec.bank_level),
      nbanks_(spec.count[spec.bank_level]),
      close_checked_(std::move(close_checked)),
      active_per_bank_(active_per_bank) {
  if (nq_ < 1 || nq_ > kMaxQueues) throw std::invalid_argument("ReadyIndex: 1 to 8 queues");
  const int ids[kSlots] = {spec.id.ACT, spec.id.PREpb, spec.id.RD, spec.id.WR};
  slot_of_cmd_.assign(ncmd_, -1);
  for (int k = 0; k < kSlots; ++k) {
    if (ids[k] < 0) throw std::invalid_argument(spec.standard + ": ACT, PREpb, RD and WR are required");
    cmd_of_slot_[k] = ids[k];
    slot_of_cmd_[ids[k]] = k;
    const Effect e = spec.cmds[ids[k]].effect;
    const bool pre = e == Effect::PrechargeBank || e == Effect::PrechargeAll;
    rising_[k] = spec.controller == ControllerKind::DualBusRisingEdge && !pre;
  }
  for (int l = 0; l <= bl_; ++l) {
    offset_[l] = nodes_;
    nodes_ += static_cast<size_t>(spec.count[l]);
    size_[l] = spec.size[l];
    ready_[l] = dev.level_ready(l);
  }
  anc_.assign(static_cast<size_t>(nbanks_) * kMaxLevels, 0);
  for (int b = 0; b < nbanks_; ++b)
    for (int l = 0; l <= bl_; ++l) anc_[static_cast<size_t>(b) * kMaxLevels + l] = b / (nbanks_ / spec.count[l]);
  val_.assign(static_cast<size_t>(nq_) * nodes_ * kSlots, kAbsent);
  cnt_.assign(static_cast<size_t>(nq_) * nbanks_ * kSlots, 0);
  // Where each command's timing rows reach: the deepest level of a row whose follower is a slot
  // command, or the parent of a sibling row's level (the parent takes the siblings' new values).
  start_.assign(ncmd_, -1);
  sib_levels_.assign(ncmd_, {});
  for (int p = 0; p < ncmd_; ++p)
    for (int l = 0; l <= bl_; ++l) {
      const size_t key = static_cast<size_t>(l) * ncmd_ + p;
      for (int e = spec.begin[key]; e < spec.begin[key + 1]; ++e)
        if (slot_of_cmd_[spec.entries[e].follow] >= 0) start_[p] = std::max(start_[p], l);
      bool sib = false;
      for (int e = spec.sib_begin[key]; e < spec.sib_begin[key + 1]; ++e)
        sib |= slot_of_cmd_[spec.sib_entries[e].follow] >= 0;
      if (sib && l > 0) {
        sib_levels_[p].push_back(l);
        start_[p] = std::max(start_[p], l - 1);
      }
    }
}

void ReadyIndex::clear_counts() { std::fill(cnt_.begin(), cnt_.end(), 0); }

void ReadyIndex::make_fresh(int q) {
  fresh_ = q;
  qbase_ = static_cast<size_t>(q) * nodes_ * kSlots;
  for (int l = bl_; l >= 0; --l)
    for (int n = 0; n < spec_->count[l]; ++n) node(l, n);
}

void ReadyIndex::refresh_all() {
  dirty_ = false;
  if (fresh_ >= 0) make_fresh(fresh_);
}

void ReadyIndex::refresh_bank(int bank, int cmd) {
  const bool dirty = dirty_;
  dirty_ = false;
  if (fresh_ < 0) return;
  const int32_t* a = &anc_[static_cast<size_t>(bank) * kMaxLevels];
  for (int sl : sib_levels_[cmd]) {  // sibling rows moved the other nodes under the same parent
    const int n = a[sl];
    const int first = (n / size_[sl]) * size_[sl];
    for (int s = first; s < first + size_[sl]; ++s)
      if (s != n) node(sl, s);
  }
  const int from = dirty ? bl_ : start_[cmd];
  walk(bank, from);
}

}  // namespace jitq::dram

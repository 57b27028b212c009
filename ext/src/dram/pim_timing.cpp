// PIM command set, timing rows and the PIM-aware simulation loop (see jitq/dram/pim_timing.hpp).
#include "jitq/dram/pim_timing.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "jitq/dram/controller.hpp"
#include "jitq/dram/request_loop.hpp"

namespace jitq::dram {

namespace {


bool has_level(const StandardDef& d, const std::string& name) {
  return std::find(d.levels.begin(), d.levels.end(), name) != d.levels.end();
}

bool has_param(const StandardDef& d, const std::string& name) {
  return std::find(d.timing_params.begin(), d.timing_params.end(), name) != d.timing_params.end();
}

const CommandDef& command_def(const StandardDef& d, const std::string& name) {
  for (const auto& c : d.commands)
    if (c.name == name) return c;
  throw std::invalid_argument(d.name + " has no " + name + " command (needed by the PIM model)");
}

}  // namespace

std::map<std::string, int64_t> pim_timing(const std::map<std::string, int64_t>& timing, const PimParams& p) {
  auto t = timing;
  t["nPIMCI"] = p.command_interval;
  t["nPIMQ"] = p.compute_cycles;
  return t;
}

StandardDef with_pim(const StandardDef& base, const PimParams& p) {
  if (p.command_interval < 1 || p.compute_cycles < 1) throw std::invalid_argument("PIM intervals must be >= 1 clock");
  if (p.act_counts_tfaw < 0 || p.act_counts_tfaw > 4) throw std::invalid_argument("act_counts_tfaw must be 0..4");
  StandardDef d = base;
  const CommandDef& act = command_def(base, "ACT");
  const CommandDef& rd = command_def(base, "RD");
  const CommandDef& wr = command_def(base, "WR");
  command_def(base, "PREab");
  d.commands.push_back({"ACTab", act.bus, Scope::AllBanks, Effect::ActivateAll, act.ck_cycles});
  d.commands.push_back({"PIM_RD", rd.bus, Scope::AllBanks, Effect::None, 1.0});
  d.commands.push_back({"PIM_WR", wr.bus, Scope::AllBanks, Effect::None, 1.0});
  d.commands.push_back({"PIM_Q", rd.bus, Scope::AllBanks, Effect::None, 1.0});
  d.timing_params.push_back("nPIMCI");
  d.timing_params.push_back("nPIMQ");

  const std::string S = base.all_bank_scope;
  const std::string B = "Bank";
  const std::string rcdrd = has_param(base, "nRCDRD") ? "nRCDRD" : "nRCD";
  const std::string rcdwr = has_param(base, "nRCDWR") ? "nRCDWR" : "nRCD";
  const std::string wtrl = has_param(base, "nWTRL") ? "nWTRL" : "nWTRS";
  const std::string wrrec = "nCWL + nBL + nWR";
  const std::vector<std::string> host_rd{"RD", "RDA"}, host_wr{"WR", "WRA"};
  const std::vector<std::string> host_col{"RD", "RDA", "WR", "WRA"};
  using C = ConstraintDef;
  auto& t = d.constraints;
  // Bank state: ACTab behaves as an ACT, PIM_RD / PIM_WR as a RD / WR, in every bank covered.
  t.push_back(C{B, {"ACT", "ACTab"}, {"ACTab"}, "nRC"});
  t.push_back(C{B, {"ACTab"}, {"ACT"}, "nRC"});
  t.push_back(C{B, {"ACTab"}, {"RD", "RDA", "PIM_RD"}, rcdrd});
  t.push_back(C{B, {"ACT"}, {"PIM_RD"}, rcdrd});
  t.push_back(C{B, {"ACTab"}, {"WR", "WRA", "PIM_WR"}, rcdwr});
  t.push_back(C{B, {"ACT"}, {"PIM_WR"}, rcdwr});
  t.push_back(C{B, {"ACTab"}, {"PREpb", "PREab"}, "nRAS"});
  t.push_back(C{S, {"ACTab"}, {"PREab"}, "nRAS"});
  t.push_back(C{B, {"PREpb", "PREab"}, {"ACTab"}, "nRP"});
  t.push_back(C{B, {"PREab"}, {"ACT"}, "nRP"});
  t.push_back(C{S, {"PREab"}, {"ACTab"}, "nRP"});
  t.push_back(C{B, {"PIM_RD"}, {"PREpb", "PREab"}, "nRTP"});
  t.push_back(C{S, {"PIM_RD"}, {"PREab"}, "nRTP"});
  t.push_back(C{B, {"PIM_WR"}, {"PREpb", "PREab"}, wrrec});
  t.push_back(C{S, {"PIM_WR"}, {"PREab"}, wrrec});
  t.push_back(C{B, {"RDA"}, {"ACTab"}, "nRTP + nRP"});
  t.push_back(C{B, {"WRA"}, {"ACTab"}, wrrec + " + nRP"});
  // Refresh.
  t.push_back(C{S, {"REFab"}, {"ACTab"}, "nRFC"});
  t.push_back(C{S, {"ACTab"}, {"REFab"}, "nRC"});
  if (has_param(base, "nRFCpb")) {
    t.push_back(C{B, {"REFpb"}, {"ACTab"}, "nRFCpb"});
    t.push_back(C{B, {"ACTab"}, {"REFpb"}, "nRC"});
    // (Blocking chunks postpone per-bank refreshes, which then issue back to back; the base
    // standards space REFpb->REFpb with nRREFD / nRFCpb.)
    t.push_back(C{S, {"REFpb"}, {"ACTab"}, "nRREFD"});
    t.push_back(C{S, {"ACTab"}, {"REFpb"}, "nRRDS"});
    // The PIM's PREab also covers banks that are refreshing (or about to).
    t.push_back(C{B, {"REFpb"}, {"PREab"}, "nRFCpb"});
    t.push_back(C{B, {"PREab"}, {"REFpb"}, "nRP"});
  }
  // Activation rate: nRRD, and tFAW with an ACTab counting as act_counts_tfaw ACTs.
  t.push_back(C{S, {"ACT", "ACTab"}, {"ACTab"}, "nRRDS"});
  t.push_back(C{S, {"ACTab"}, {"ACT"}, "nRRDS"});
  if (has_level(base, "BankGroup")) {
    t.push_back(C{"BankGroup", {"ACT", "ACTab"}, {"ACTab"}, "nRRDL"});
    t.push_back(C{"BankGroup", {"ACTab"}, {"ACT"}, "nRRDL"});
  }
  if (p.act_counts_tfaw > 0) {
    // ACTab may issue when at most 4 - k ACTs lie in the window: the (5 - k)-th most recent is old
    // enough. After an ACTab, ACTs wait a full window (exact for k = 4, conservative below).
    t.push_back(C{S, {"ACT"}, {"ACTab"}, "nFAW", 5 - p.act_counts_tfaw});
    t.push_back(C{S, {"ACTab"}, {"ACT", "ACTab"}, "nFAW"});
  }
  // PIM column sequencing (all units in lockstep).
  t.push_back(C{S, {"PIM_RD"}, {"PIM_RD", "PIM_WR"}, "nPIMCI"});
  t.push_back(C{S, {"PIM_WR"}, {"PIM_WR"}, "nPIMCI"});
  t.push_back(C{S, {"PIM_WR"}, {"PIM_RD"}, "nCWL + nBL + " + wtrl});
  t.push_back(C{S, {"PIM_RD"}, {"PIM_Q"}, "nCL + nBL"});
  t.push_back(C{S, {"PIM_Q"}, {"PIM_Q", "PIM_RD", "PIM_WR"}, "nPIMQ"});
  // PIM column accesses against host column accesses (they share the banks' column paths).
  const std::string colgroup = has_level(base, "BankGroup") ? "BankGroup" : S;
  t.push_back(C{colgroup, {"PIM_RD", "PIM_WR"}, host_col, "nCCDL"});
  t.push_back(C{colgroup, host_col, {"PIM_RD", "PIM_WR"}, "nCCDL"});
  t.push_back(C{colgroup, {"PIM_WR"}, host_rd, "nCWL + nBL + " + wtrl});
  t.push_back(C{colgroup, host_wr, {"PIM_RD"}, "nCWL + nBL + " + wtrl});
  return d;
}

namespace {

struct LCmd {
  int16_t cmd;
  int32_t row;
  int32_t col;
};

// Turns the per-unit programs into one in-order command list per channel and feeds the controller.
class PimDriver {
 public:
  // `only_node` >= 0: drive that pseudo-channel (rank) alone (interleave / bank-partition, so that
  // the pseudo-channels do not wait for each other); -1: all of them in lockstep (blocking chunks).
  // `queued` counts, per channel, the PIM requests sitting in the controller's priority queue.
  PimDriver(const Spec& spec, const PimParams& p, const std::vector<PimProgram>& kernels, int tag, int only_node,
            int* queued)
      : spec_(&spec), p_(p), tag_(tag), queued_(queued) {
    id_actab_ = spec.find_command("ACTab");
    id_rd_ = spec.find_command("PIM_RD");
    id_wr_ = spec.find_command("PIM_WR");
    id_q_ = spec.find_command("PIM_Q");
    // Target nodes: every pseudo-channel (rank), or its last SID / bank group under bank-partition.
    const int top = spec.scope_level;
    for (int n = 0; n < spec.count[top]; ++n) {
      if (only_node >= 0 && n != only_node) continue;
      NodeAddr a{};
      for (int l = 0; l < kMaxLevels; ++l) a.node[l] = -1;
      for (int l = 0; l <= top; ++l) a.node[l] = n / (spec.count[top] / spec.count[l]);
      level_ = top;
      if (p.policy == PimPolicy::BankPartition) {
        if (top + 1 >= spec.bank_level) throw std::invalid_argument("bank-partition needs a level between the all-bank scope and Bank");
        a.node[top + 1] = n * spec.size[top + 1] + spec.size[top + 1] - 1;
        level_ = top + 1;
      }
      nodes_.push_back(a);
    }
    for (const auto& k : kernels) {
      const size_t n = k.op.size();
      if (k.row.size() != n || k.col.size() != n) throw std::invalid_argument("PIM program arrays differ in length");
      std::vector<size_t> after(n + 1, 0);
      int64_t cur = -1;
      for (size_t i = 0; i < n; ++i) {
        const int8_t op = k.op[i];
        if (op == kPimOpRead || op == kPimOpWrite) {
          if (k.row[i] < 0 || k.row[i] >= spec.rows) throw std::invalid_argument("PIM program row out of range");
          if (k.row[i] != cur) {
            // Explicit PREab so that the pseudo-channels' row switches overlap in the in-order queue
            // (skipped at the head of the queue when nothing is open).
            cmds_.push_back({static_cast<int16_t>(spec.id.PREab), -1, -1});
            cmds_.push_back({static_cast<int16_t>(id_actab_), static_cast<int32_t>(k.row[i]), -1});
            cur = k.row[i];
          }
          cmds_.push_back({static_cast<int16_t>(op == kPimOpRead ? id_rd_ : id_wr_), static_cast<int32_t>(k.row[i]), k.col[i]});
        } else if (op == kPimOpQuantize) {
          cmds_.push_back({static_cast<int16_t>(id_q_), -1, -1});
        } else {
          throw std::invalid_argument("bad PIM program opcode");
        }
        after[i + 1] = cmds_.size();
      }
      for (int64_t g : k.group_end) {
        if (g < 0 || static_cast<size_t>(g) > n) throw std::invalid_argument("PIM group_end out of range");
        group_end_.push_back(after[static_cast<size_t>(g)]);
      }
      if (group_end_.empty() || group_end_.back() != cmds_.size()) group_end_.push_back(cmds_.size());
      kernel_end_.push_back(cmds_.size());
    }
    kernel_start_tick_.assign(kernels.size(), -1);
    kernel_end_tick_.assign(kernels.size(), -1);
    std::vector<size_t> ge;
    for (size_t g : group_end_)
      if (ge.empty() || g > ge.back()) ge.push_back(g);
    group_end_ = ge;
  }

  bool done() const { return pos_ >= cmds_.size() && outstanding_ == 0; }
  const std::vector<int64_t>& kernel_start() const { return kernel_start_tick_; }
  const std::vector<int64_t>& kernel_end() const { return kernel_end_tick_; }

  void on_done(int64_t clk) {
    --outstanding_;
    --*queued_;
    last_done_ = std::max(last_done_, clk);
    if (outstanding_ == 0) {
      finish_kernels();
      if (p_.policy == PimPolicy::Blocking) {
        chunk_end_ = clk;
        host_deadline_ = clk + std::max<int64_t>(1, clk - chunk_start_);
      }
    }
  }

  // Before the controller's tick at `now`: queue what the policy allows.
  void before_tick(Controller& c, int64_t now) {
    // Queue only behind other PIM requests that can issue now, never behind a refresh (it would
    // close the rows this driver checked).
    if (pos_ >= cmds_.size() || outstanding_ > 0 || c.priority_size() != static_cast<size_t>(*queued_)) return;
    if (p_.policy == PimPolicy::Blocking && *queued_ != 0) return;
    skip_noops(c);
    if (pos_ >= cmds_.size()) {
      finish_kernels();
      return;
    }
    if (p_.policy == PimPolicy::Blocking) {
      if (chunk_end_ >= 0 && !c.idle() && now < host_deadline_) return;  // host's turn
      inject_chunk(c, now);
    } else {
      inject_one(c, now);
    }
  }

  int64_t next_event(const Controller& c, int64_t now) const {
    if (pos_ >= cmds_.size() || outstanding_ > 0) return kNever;
    if (p_.policy == PimPolicy::Blocking) {
      if (chunk_end_ >= 0 && !c.idle()) return std::max(now + 1, host_deadline_);
      return now + 1;
    }
    // what before_tick() would queue: the program's next command after no-op PREabs
    const size_t pos = after_noops(c);
    if (pos >= cmds_.size()) return now + 1;  // only no-ops left: let before_tick() finish the program
    const int64_t r = ready(c, next_issue_cmd(c, pos));
    // A waiting command (interleave, low priority) restarts its wait at the first tick at which it
    // cannot issue (inject_one): that tick must be evaluated even if nothing else happens then.
    if (wait_since_ >= 0 && r > now + 1) return now + 1;
    int64_t t = std::max(now + 1, r);
    if (!p_.high_priority && p_.policy == PimPolicy::Interleave && !c.idle())
      t = std::max(t, wait_since_ >= 0 ? wait_since_ + p_.max_wait * spec_->tick_mult : now + 1);
    return t;
  }

 private:
  bool rows_open(const Controller& c, int row) const {
    const Device& d = c.device();
    for (const auto& a : nodes_) {
      int span = spec_->count[spec_->bank_level] / spec_->count[level_];
      int first = a.node[level_] * span;
      for (int b = first; b < first + span; ++b)
        if (d.open_row(b) != row) return false;
    }
    return true;
  }

  bool any_open(const Controller& c) const {
    const Device& d = c.device();
    for (const auto& a : nodes_) {
      int span = spec_->count[spec_->bank_level] / spec_->count[level_];
      int first = a.node[level_] * span;
      for (int b = first; b < first + span; ++b)
        if (d.open_row(b) >= 0) return true;
    }
    return false;
  }

  // Drops a PREab at the head of the program when no PIM bank is open.
  void skip_noops(const Controller& c) { pos_ = after_noops(c); }
  // The position skip_noops() would move to (program PREabs with nothing open are no-ops).
  size_t after_noops(const Controller& c) const {
    size_t p = pos_;
    while (p < cmds_.size() && cmds_[p].cmd == spec_->id.PREab && !any_open(c)) ++p;
    return p;
  }

  // The logical command to queue next: the program's, or a PREab / ACTab re-opening the program's
  // row if the host or a refresh closed or changed it.
  LCmd next_issue_cmd(const Controller& c) const { return next_issue_cmd(c, pos_); }
  LCmd next_issue_cmd(const Controller& c, size_t pos) const {
    const LCmd& n = cmds_[pos];
    const bool access = n.cmd == id_rd_ || n.cmd == id_wr_;
    if ((access && !rows_open(c, n.row)) || (n.cmd == id_actab_ && any_open(c))) {
      if (any_open(c)) return {static_cast<int16_t>(spec_->id.PREab), -1, -1};
      return {static_cast<int16_t>(id_actab_), n.row, -1};
    }
    return n;
  }

  int64_t ready(const Controller& c, const LCmd& l) const {
    int cmd = l.cmd;
    if (cmd == id_actab_ && any_open(c)) cmd = spec_->id.PREab;
    int64_t t = 0;
    for (const auto& a : nodes_) t = std::max(t, c.device().ready_time(cmd, a));
    return t;
  }

  void push(Controller& c, const LCmd& l) {
    for (const auto& a : nodes_) {
      Request r;
      r.at = a;
      r.final_cmd = l.cmd;
      r.row = l.row;
      r.col = l.col;
      r.tag = tag_;
      c.priority_send(r);
      ++outstanding_;
      ++*queued_;
    }
  }

  void start_kernel_if_needed(int64_t now) {
    while (kidx_ < kernel_end_.size() && kernel_start_tick_[kidx_] >= 0 && pos_ >= kernel_end_[kidx_]) ++kidx_;
    if (kidx_ < kernel_end_.size() && kernel_start_tick_[kidx_] < 0) kernel_start_tick_[kidx_] = now;
  }

  void finish_kernels() {
    for (size_t k = 0; k < kernel_end_.size(); ++k)
      if (kernel_end_tick_[k] < 0 && kernel_start_tick_[k] >= 0 && pos_ >= kernel_end_[k]) kernel_end_tick_[k] = last_done_;
  }

  void inject_chunk(Controller& c, int64_t now) {
    start_kernel_if_needed(now);
    chunk_start_ = now;
    // Chunk: up to chunk_groups groups, never across a kernel boundary.
    size_t kend = kernel_end_[kidx_];
    size_t end = pos_;
    int groups = 0;
    auto it = std::upper_bound(group_end_.begin(), group_end_.end(), pos_);
    // A chunk also stays below half a refresh interval of column commands, so the refresh queued
    // behind it is postponed by less than tREFI (JEDEC allows up to 8 postponed refreshes).
    const size_t cap = spec_->nREFI > 0
                           ? static_cast<size_t>(std::max<int64_t>(1, spec_->nREFI / (2 * spec_->tick_mult * p_.command_interval)))
                           : SIZE_MAX;
    while (it != group_end_.end() && groups < p_.chunk_groups && *it <= kend && (groups == 0 || *it - pos_ <= cap)) {
      end = *it;
      ++groups;
      ++it;
    }
    if (end <= pos_) end = kend;
    // Re-open the program's row first if the host or a refresh changed the banks between chunks.
    for (int guard = 0; guard < 2; ++guard) {
      LCmd first = next_issue_cmd(c);
      if (first.cmd == cmds_[pos_].cmd) break;
      push(c, first);
      if (first.cmd == id_actab_) break;
      // after the PREab, the ACTab (unless the program's own next command is one)
      if (cmds_[pos_].cmd == id_actab_) break;
      const LCmd& n = cmds_[pos_];
      push(c, {static_cast<int16_t>(id_actab_), n.row, -1});
      break;
    }
    for (; pos_ < end; ++pos_) push(c, cmds_[pos_]);
  }

  void inject_one(Controller& c, int64_t now) {
    LCmd l = next_issue_cmd(c);
    if (ready(c, l) > now) {
      wait_since_ = -1;
      return;
    }
    if (!p_.high_priority && p_.policy == PimPolicy::Interleave && !c.idle()) {
      if (wait_since_ < 0) wait_since_ = now;
      if (now < wait_since_ + static_cast<int64_t>(p_.max_wait) * spec_->tick_mult) return;
    }
    wait_since_ = -1;
    start_kernel_if_needed(now);
    push(c, l);
    if (l.cmd == cmds_[pos_].cmd && l.row == cmds_[pos_].row) ++pos_;  // re-opening commands do not advance
  }

  const Spec* spec_;
  PimParams p_;
  int tag_;
  int* queued_;
  int id_actab_ = -1, id_rd_ = -1, id_wr_ = -1, id_q_ = -1;
  int level_ = 0;
  std::vector<NodeAddr> nodes_;
  std::vector<LCmd> cmds_;
  std::vector<size_t> group_end_;
  std::vector<size_t> kernel_end_;
  std::vector<int64_t> kernel_start_tick_, kernel_end_tick_;
  size_t pos_ = 0, kidx_ = 0;
  int outstanding_ = 0;
  int64_t last_done_ = 0;
  int64_t chunk_start_ = 0, chunk_end_ = -1, host_deadline_ = 0;
  int64_t wait_since_ = -1;
};

}  // namespace

PimRunResult simulate_with_pim(const SimConfig& cfg, const PimParams& p, const std::vector<PimProgram>& kernels,
                               const uint64_t* addr, const uint8_t* is_write, const int64_t* arrival, size_t n) {
  const Spec spec = resolve_spec(with_pim(standard(cfg.standard), p), cfg.org, pim_timing(cfg.timing, p), cfg.tCK_ps);
  MemorySystem ms(cfg, spec, addr, arrival, n);
  auto& ctrls = ms.ctrls;
  // drivers[c]: one (blocking, all pseudo-channels in lockstep) or one per pseudo-channel (rank).
  std::vector<std::vector<std::unique_ptr<PimDriver>>> drivers(cfg.channels);
  std::vector<int> queued(cfg.channels, 0);
  const int per_channel = p.policy == PimPolicy::Blocking ? 1 : spec.count[spec.scope_level];
  for (int c = 0; c < cfg.channels; ++c) {
    for (int d = 0; d < per_channel; ++d)
      drivers[c].push_back(std::make_unique<PimDriver>(spec, p, kernels, d, per_channel == 1 ? -1 : d, &queued[c]));
    auto* drv = &drivers[c];
    ctrls[c]->on_priority_done = [drv](const Request& r, int64_t clk) {
      if (r.tag >= 0) (*drv)[static_cast<size_t>(r.tag)]->on_done(clk);
    };
  }

  PimRunResult out;
  SimResult& res = out.sim;
  // The drivers as the loop's extra request source: a channel is idle once its priority queue is
  // empty and its drivers are done; drivers feed the priority queue before the controller ticks.
  struct Drivers {
    std::vector<std::unique_ptr<Controller>>& ctrls;
    std::vector<std::vector<std::unique_ptr<PimDriver>>>& drivers;
    bool idle(size_t c) const {
      bool idle = ctrls[c]->priority_empty();
      for (const auto& d : drivers[c]) idle = idle && d->done();
      return idle;
    }
    int64_t next_event(size_t c, int64_t now) const {
      int64_t t = kNever;
      for (const auto& d : drivers[c]) t = std::min(t, d->next_event(*ctrls[c], now));
      return t;
    }
    void before_tick(size_t c, int64_t now) {
      for (auto& d : drivers[c]) d->before_tick(*ctrls[c], now);
    }
  } extra{ctrls, drivers};
  run_requests(cfg, spec, ms, addr, is_write, arrival, n, extra, res);
  ms.finish(spec, res);
  out.kernel_start.assign(kernels.size(), -1);
  out.kernel_end.assign(kernels.size(), -1);
  for (const auto& per : drivers)
    for (const auto& d : per)
    for (size_t k = 0; k < kernels.size(); ++k) {
      if (d->kernel_start()[k] >= 0)
        out.kernel_start[k] = out.kernel_start[k] < 0 ? d->kernel_start()[k] : std::min(out.kernel_start[k], d->kernel_start()[k]);
      out.kernel_end[k] = std::max(out.kernel_end[k], d->kernel_end()[k]);
    }
  return out;
}

}  // namespace jitq::dram

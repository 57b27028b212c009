#include "jitq/dram/controller.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace jitq::dram {

namespace {

bool is_access(Effect e) {
  return e == Effect::Read || e == Effect::Write || e == Effect::ReadAP || e == Effect::WriteAP;
}
bool is_closing(Effect e) {
  return e == Effect::PrechargeBank || e == Effect::PrechargeAll || e == Effect::ReadAP || e == Effect::WriteAP;
}
}  // namespace

// ---------------------------------------------------------------- command log

CommandLog::CommandLog(const std::string& path, const Spec& spec) : spec_(&spec), buf_(1 << 20) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw std::runtime_error("cannot open command log for writing: " + path);
  for (int l = 0; l < spec.n_levels; ++l) {
    const auto& n = spec.level_names[l];
    if (n == "PseudoChannel") pc_level_ = l;
    if (n == "Rank") rank_level_ = l;
    if (n == "Sid") sid_level_ = l;
    if (n == "BankGroup") bg_level_ = l;
  }
  const char* header = "cycle,command,channel,pseudochannel,bankgroup,bank,row,column,rank,sid\n";
  std::fputs(header, file_);
}

CommandLog::~CommandLog() {
  try {
    close();
  } catch (...) {
  }
}

void CommandLog::flush() {
  if (file_ && used_) {
    if (std::fwrite(buf_.data(), 1, used_, file_) != used_) throw std::runtime_error("command log write failed");
  }
  used_ = 0;
}

void CommandLog::close() {
  if (!file_) return;
  flush();
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) throw std::runtime_error("command log close failed");
}

static char* put_int(char* p, int64_t v) {
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

void CommandLog::write(int64_t clk, int cmd, int channel, const NodeAddr& at, int row, int col) {
  if (used_ + 256 > buf_.size()) flush();
  char* p = buf_.data() + used_;
  auto local = [&](int level) -> int64_t {
    if (level < 0) return 0;
    int n = at.node[level];
    return n < 0 ? -1 : n % spec_->size[level];
  };
  p = put_int(p, clk);
  *p++ = ',';
  const std::string& name = spec_->cmds[cmd].name;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ',';
  p = put_int(p, channel);
  *p++ = ',';
  p = put_int(p, local(pc_level_));
  *p++ = ',';
  p = put_int(p, local(bg_level_));
  *p++ = ',';
  p = put_int(p, local(spec_->bank_level));
  *p++ = ',';
  p = put_int(p, row);
  *p++ = ',';
  p = put_int(p, col);
  *p++ = ',';
  p = put_int(p, local(rank_level_));
  *p++ = ',';
  p = put_int(p, local(sid_level_));
  *p++ = '\n';
  used_ = static_cast<size_t>(p - buf_.data());
}

// ---------------------------------------------------------------- controller

Controller::Controller(const Spec& spec, const ControllerConfig& cfg, int channel, CommandLog* log, ChannelStats* stats)
    : spec_(&spec),
      cfg_(cfg),
      channel_(channel),
      device_(spec),
      log_(log),
      stats_(stats),
      active_per_bank_(static_cast<size_t>(spec.count[spec.bank_level]), 0),
      // read and write queues: a precharge waits while its bank has an active request
      index_(spec, device_, {1, 1}, active_per_bank_.data()) {
  if (cfg.read_buffer_size < 1 || cfg.write_buffer_size < 1) throw std::invalid_argument("buffer sizes must be >= 1");
  read_.reserve(cfg.read_buffer_size);
  write_.reserve(cfg.write_buffer_size);
  active_cap_ = spec.count[spec.bank_level];
  active_.reserve(active_cap_);
  priority_.reserve(1024);
  wr_low_ = cfg.wr_low_watermark * cfg.write_buffer_size;
  wr_high_ = cfg.wr_high_watermark * cfg.write_buffer_size;
  stats_->cmd_counts.assign(spec.ncmd(), 0);
  for (int l = 0; l < spec.n_levels; ++l)
    if (spec.level_names[l] == "PseudoChannel") pc_level_ = l;
  for (const auto& c : spec.cmds) {
    closing_.push_back(is_closing(c.effect));
    column_.push_back(c.bus == Bus::Column);
    // HBM3: column commands and every row command except precharges only on rising edges
    bool pre = c.effect == Effect::PrechargeBank || c.effect == Effect::PrechargeAll;
    rising_only_.push_back(spec.controller == ControllerKind::DualBusRisingEdge && !pre);
  }
  if (cfg.refresh == RefreshPolicy::AllBank) {
    if (spec.id.REFab < 0 || spec.nREFI <= 0) throw std::invalid_argument(spec.standard + ": no all-bank refresh (REFab/nREFI)");
    refresh_interval_ = spec.nREFI;
  } else if (cfg.refresh == RefreshPolicy::PerBank) {
    if (spec.id.REFpb < 0 || spec.nREFIpb <= 0)
      throw std::invalid_argument(spec.standard + " has no per-bank refresh (REFpb); use refresh=all-bank");
    refresh_interval_ = spec.nREFIpb;
  }
  next_refresh_ = refresh_interval_ > 0 ? refresh_interval_ : kNever;
  refresh_rr_.assign(spec.count[spec.scope_level], 0);
}

bool Controller::buffered_write(uint64_t addr) const { return write_.contains_addr(addr); }

bool Controller::can_accept(const Request& req) const {
  if (req.kind == 0) {
    if (cfg_.read_forwarding && buffered_write(req.addr)) return true;
    return static_cast<int>(read_.size()) < cfg_.read_buffer_size;
  }
  if (buffered_write(req.addr)) return true;
  return static_cast<int>(write_.size()) < cfg_.write_buffer_size;
}

bool Controller::send(Request req, int64_t clk) {
  req.final_cmd = static_cast<int16_t>(req.kind == 0 ? spec_->id.RD : spec_->id.WR);
  req.arrive = clk;
  if (req.kind == 0) {
    if (cfg_.read_forwarding && buffered_write(req.addr)) {
      stats_->reads++;
      stats_->read_forwarded++;
      stats_->read_latency.push_back(1);
      stats_->last_completion = std::max(stats_->last_completion, clk + 1);
      return true;
    }
    if (static_cast<int>(read_.size()) >= cfg_.read_buffer_size) return false;
    req.cmd = static_cast<int16_t>(cmd_for(req));
    read_.push(req);
    index_.add(kReadQ, req.cmd, req.bank);
    stats_->reads++;
    return true;
  }
  if (buffered_write(req.addr)) {
    stats_->writes++;
    stats_->write_coalesced++;
    stats_->last_completion = std::max(stats_->last_completion, clk);
    return true;
  }
  if (static_cast<int>(write_.size()) >= cfg_.write_buffer_size) return false;
  req.cmd = static_cast<int16_t>(cmd_for(req));
  write_.push(req);
  index_.add(kWriteQ, req.cmd, req.bank);
  stats_->writes++;
  return true;
}

void Controller::priority_send(const Request& req) {
  Request r = req;
  if (r.final_cmd < 0 || r.final_cmd >= spec_->ncmd()) throw std::invalid_argument("priority_send: bad command id");
  r.kind = 2;
  r.arrive = clk_;
  r.bank = r.at.node[spec_->bank_level];
  priority_.push_back(r);
}

int Controller::preq(const Request& r) const {
  const CommandInfo& fin = spec_->cmds[r.final_cmd];
  const int bl = spec_->bank_level;
  switch (fin.effect) {
    case Effect::Read:
    case Effect::Write:
    case Effect::ReadAP:
    case Effect::WriteAP: {
      int open = device_.open_row(r.at.node[bl]);
      if (open < 0) return spec_->id.ACT;
      return open == r.row ? r.final_cmd : spec_->id.PREpb;
    }
    case Effect::RefreshAll:
      return device_.any_open(r.at, spec_->scope_level) ? spec_->id.PREab : r.final_cmd;
    case Effect::ActivateAll: {
      // PIM all-bank ACT: only the banks it addresses must be closed (bank-partition addresses one SID).
      int deepest = spec_->scope_level;
      while (deepest + 1 < bl && r.at.node[deepest + 1] >= 0) ++deepest;
      return device_.any_open(r.at, deepest) ? spec_->id.PREab : r.final_cmd;
    }
    case Effect::RefreshBank:
    case Effect::Activate:
      return device_.open_row(r.at.node[bl]) >= 0 ? spec_->id.PREpb : r.final_cmd;
    default:
      return r.final_cmd;
  }
}

bool Controller::would_close_active_all(const Request& r) const {
  const int bl = spec_->bank_level;
  for (const auto& a : active_) {
    // an active request lies under the command's scope if its node matches at every addressed level
    bool under = true;
    for (int l = 0; l < bl && under; ++l)
      if (r.at.node[l] >= 0 && r.at.node[l] != a.at.node[l]) under = false;
    if (under) return true;
  }
  return false;
}

bool Controller::eligible_falling(const Request& r, Slot slot) const {
  // Falling edge: no column commands; only precharges, subject to pairing with the rising-edge command.
  if (slot == Slot::Column) return false;
  if (r.cmd != spec_->id.PREpb && r.cmd != spec_->id.PREab) return false;
  if (clk_ != pair_edge_) return true;
  if (r.at.node[pc_level_] != pair_pc_) return true;
  if (pair_bank_ < 0) return false;  // rising-edge command was all-bank
  return r.cmd == spec_->id.PREpb && r.at.node[spec_->bank_level] != pair_bank_;
}

// The active queue (requests whose row is being opened for them; at most one per bank): the oldest
// whose next command is ready now. Each request keeps a lower bound of its ready tick, as in the read and
// write queues (its bank keeps its row: the close check protects it), so only requests whose bound has
// passed are looked up.
Controller::Pick Controller::pick_active(Slot slot) {
  if (cfg_.exact_scan) return pick_exact(active_, slot, false, true);
  Pick best;
  const size_t n = active_.size();
  int64_t best_arrive = 0;
  for (size_t i = 0; i < n; ++i) {
    if (active_.lb(i) > clk_) continue;
    Request& r = active_[i];
    r.cmd = static_cast<int16_t>(cmd_for(r));
    if (look_up(active_, i) > clk_) continue;
    if (best && r.arrive >= best_arrive) continue;
    if (!eligible(r, slot)) continue;
    best.buf = &active_;
    best.idx = static_cast<int>(i);
    best_arrive = r.arrive;
  }
  return best;
}

// FR-FCFS on a read or write queue: the oldest request whose next command is ready now (and passes the
// slot's filter and the close check). The ready index says at once when nothing in the queue can issue
// now; otherwise only the requests whose cached lower bound has passed (found branch-free) are visited,
// in arrival order, and each visited request's bound becomes its exact ready tick.
Controller::Pick Controller::pick_queued(RequestQueue& buf, Slot slot) {
  if (cfg_.exact_scan) return pick_exact(buf, slot, true, false);
  Pick best;
  if (buf.empty()) return best;
  const int q = queue_id(&buf);
  const unsigned mask = slot == Slot::Any ? ReadyIndex::kAllSlots
                                          : (slot == Slot::Column ? index_.column_slots() : index_.row_slots());
  const unsigned ready_slots = index_.ready_slots(q, clk_) & mask;
  if (ready_slots == 0) return best;
  const size_t n = buf.size();
  for (size_t first = 0; first < n; first += 64) {
    for (uint64_t m = buf.candidates(first, clk_); m; m &= m - 1) {
      const size_t i = first + static_cast<size_t>(__builtin_ctzll(m));
      Request& r = buf[i];
      r.cmd = static_cast<int16_t>(cmd_for(r));  // from the bank's open row: commands are not cached
      if (!eligible(r, slot) || look_up(buf, i) > clk_) continue;
      if (would_close_active(r, r.cmd)) continue;
      best.buf = &buf;
      best.idx = static_cast<int>(i);
      return best;
    }
  }
  return best;
}

// The reference for both picks above (cfg_.exact_scan): every request looked up, nothing cached. The
// read and write queues take the first ready request in arrival order; the active queue the ready one
// that arrived first.
Controller::Pick Controller::pick_exact(RequestQueue& buf, Slot slot, bool check_close, bool oldest_arrival) {
  Pick best;
  int64_t best_arrive = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    Request& r = buf[i];
    r.cmd = static_cast<int16_t>(cmd_for(r));
    if (!eligible(r, slot) || ready(r, r.cmd) > clk_) continue;
    if (check_close && would_close_active(r, r.cmd)) continue;
    if (best && r.arrive >= best_arrive) continue;
    best.buf = &buf;
    best.idx = static_cast<int>(i);
    best_arrive = r.arrive;
    if (!oldest_arrival) break;
  }
  return best;
}

Controller::Pick Controller::pick_priority(Slot slot) {
  Pick p;
  if (priority_.empty()) return p;
  Request& r = priority_.front();
  r.cmd = static_cast<int16_t>(preq(r));
  if (ready(r, r.cmd) > clk_) return p;
  if (would_close_active(r, r.cmd)) return p;
  if (!eligible(r, slot)) return p;
  p.buf = nullptr;  // the priority queue
  p.idx = 0;
  return p;
}

bool Controller::write_mode_after(bool mode) const {
  const double w = static_cast<double>(write_.size());
  if (!mode) return w > wr_high_ || read_.empty();
  return !(w < wr_low_ && !read_.empty());
}

Controller::Pick Controller::pick_rw(Slot slot) {
  if (allow_rw && !allow_rw(clk_)) return {};
  write_mode_ = write_mode_after(write_mode_);
  return pick_queued(write_mode_ ? write_ : read_, slot);
}

// After a bank's open row changed, its queued requests wait on another command: closed, all on ACT;
// open, the requests to the open row on their access and the others on PREpb. Counted per queue from
// the bank's total and a branch-free count of row hits, without visiting requests. Their cached ready
// bounds are voided when the bank closed; an opened bank needs nothing: it was closed, so all its
// requests waited on the ACT just issued, and their bounds are at most now already.
void Controller::recount_bank(int bank) {
  const int open = device_.open_row(bank);
  RequestQueue* queues[2] = {&read_, &write_};
  for (int q = 0; q < 2; ++q) {
    int hits = 0;
    if (open < 0) queues[q]->row_changed(bank);
    else hits = queues[q]->count_at(bank, open);
    index_.set_counts(q, bank, open >= 0, hits, q == kReadQ ? spec_->id.RD : spec_->id.WR);
  }
}

void Controller::recount_all() {
  index_.clear_counts();
  RequestQueue* queues[2] = {&read_, &write_};
  active_.reset_lbs();
  for (int q = 0; q < 2; ++q) {
    queues[q]->reset_lbs();
    for (const Request& r : *queues[q]) index_.add_count(q, cmd_for(r), r.bank);
  }
  index_.refresh_all();
}

void Controller::issue(Pick p) {
  const bool from_priority = p.buf == nullptr;
  Request& r = from_priority ? priority_.front() : (*p.buf)[static_cast<size_t>(p.idx)];
  const Spec& s = *spec_;
  const int bl = s.bank_level;
  int cmd = r.cmd;
  // Closed-page policy: the last queued access to a row carries an auto-precharge.
  if (cfg_.row_policy == RowPolicy::Closed && (cmd == s.id.RD || cmd == s.id.WR)) {
    auto same_row = [&](const RequestQueue& b) {
      for (const auto& q : b)
        if (&q != &r && q.kind != 2 && q.bank == r.bank && q.row == r.row) return true;
      return false;
    };
    const bool more = same_row(read_) || same_row(write_) || same_row(active_);
    if (!more) cmd = (cmd == s.id.RD) ? s.id.RDA : s.id.WRA;
  }
  if (!r.stat_done && r.kind != 2) {
    r.stat_done = true;
    int open = device_.open_row(r.at.node[bl]);
    if (open == r.row) stats_->row_hits++;
    else if (open >= 0) stats_->row_conflicts++;
    else stats_->row_misses++;
  }
  device_.issue(cmd, r.at, r.row, clk_);
  stats_->cmd_counts[cmd]++;
  const Effect eff = s.cmds[cmd].effect;
  if (log_)
    log_->write(clk_, cmd, channel_, r.at, (eff == Effect::Activate || eff == Effect::ActivateAll || is_access(eff)) ? r.row : -1,
                is_access(eff) ? r.col : -1);
  const int bank = r.bank;  // -1 for an all-bank command
  const bool row_change = eff == Effect::Activate || eff == Effect::ActivateAll || is_closing(eff);
  const int qid = from_priority ? -1 : queue_id(p.buf);

  const bool done = (cmd == r.final_cmd) || (is_access(eff) && is_access(s.cmds[r.final_cmd].effect));
  if (done) {
    if (p.buf == &active_) {
      active_per_bank_[r.bank]--;
      index_.mark_gate();
    }
    if (r.kind == 0) {
      int64_t depart = clk_ + s.read_latency;
      stats_->read_latency.push_back(static_cast<int32_t>(depart - r.arrive));
      stats_->last_completion = std::max(stats_->last_completion, depart);
    } else if (r.kind == 1) {
      stats_->last_completion = std::max(stats_->last_completion, clk_);
    } else if (on_priority_done) {
      on_priority_done(r, clk_);
    }
    if (from_priority) {
      priority_.erase(priority_.begin());
    } else {
      if (qid != kActiveQ) index_.remove_count(qid, r.cmd, bank);
      p.buf->erase(static_cast<size_t>(p.idx));
    }
  } else if (eff == Effect::Activate && !from_priority && p.buf != &active_) {
    if (static_cast<int>(active_.size()) < active_cap_) {
      active_per_bank_[bank]++;
      index_.mark_gate();
      index_.remove_count(qid, r.cmd, bank);
      active_.push(r);
      p.buf->erase(static_cast<size_t>(p.idx));
    }
  }
  // Keep the ready index current: requests at a bank whose row changed wait on another command now,
  // and the command moved ready ticks along its bank's path (or everywhere, for an all-bank command).
  if (bank >= 0) {
    if (row_change) recount_bank(bank);
    index_.refresh_bank(bank, cmd);
  } else if (row_change) {
    recount_all();
  } else {
    index_.refresh_all();
  }
}

bool Controller::try_slot(Slot slot) {
  Pick p;
  if (slot != Slot::Row && !active_.empty()) p = pick_active(slot);
  if (!p) p = pick_priority(slot);
  if (!p && priority_.empty()) p = pick_rw(slot);
  if (!p) return false;
  if (spec_->controller == ControllerKind::DualBusRisingEdge && rising_ && slot == Slot::Row) {
    const Request& r = p.buf ? (*p.buf)[static_cast<size_t>(p.idx)] : priority_.front();
    pair_cmd_ = r.cmd;
    pair_pc_ = r.at.node[pc_level_];
    pair_bank_ = spec_->cmds[r.cmd].scope == Scope::AllBanks ? -1 : r.at.node[spec_->bank_level];
    pair_edge_ = clk_ + (r.cmd == spec_->id.ACT ? 3 : 1);
  }
  issue(p);
  return true;
}

void Controller::refresh_tick() {
  if (clk_ != next_refresh_) return;
  next_refresh_ += refresh_interval_;
  const Spec& s = *spec_;
  const int sl = s.scope_level;
  for (int node = 0; node < s.count[sl]; ++node) {
    Request r;
    r.kind = 2;
    for (int l = 0; l < kMaxLevels; ++l) r.at.node[l] = -1;
    // ancestors of `node` at the levels above the scope
    for (int l = 0; l <= sl; ++l) r.at.node[l] = node / (s.count[sl] / s.count[l]);
    r.bank = -1;
    if (cfg_.refresh == RefreshPolicy::AllBank) {
      r.final_cmd = static_cast<int16_t>(s.id.REFab);
    } else {
      int span = s.count[s.bank_level] / s.count[sl];
      int bank = node * span + refresh_rr_[node];
      refresh_rr_[node] = (refresh_rr_[node] + 1) % span;
      for (int l = sl + 1; l <= s.bank_level; ++l) r.at.node[l] = bank / (s.count[s.bank_level] / s.count[l]);
      r.bank = bank;
      r.final_cmd = static_cast<int16_t>(s.id.REFpb);
    }
    r.arrive = clk_;
    priority_.push_back(r);
  }
}

void Controller::tick(int64_t clk) {
  clk_ = clk;
  refresh_tick();
  switch (spec_->controller) {
    case ControllerKind::SingleBus:
      try_slot(Slot::Any);
      break;
    case ControllerKind::DualBus:
      try_slot(Slot::Column);
      try_slot(Slot::Row);
      break;
    case ControllerKind::DualBusRisingEdge:
      rising_ = (clk % 2) == 1;
      if (rising_) try_slot(Slot::Column);
      try_slot(Slot::Row);
      break;
  }
}

// min(limit, the earliest tick at which an active request could issue), rounded up to rising edges where
// required. Exact, but only requests whose bound is below the running minimum are looked up: the others
// cannot lower it.
int64_t Controller::active_bound(int64_t limit) {
  const size_t n = active_.size();
  for (size_t i = 0; i < n; ++i) {
    if (active_.lb(i) >= limit) continue;
    Request& r = active_[i];
    r.cmd = static_cast<int16_t>(cmd_for(r));
    const int64_t t = on_edge(r.cmd, look_up(active_, i));
    limit = t < limit ? t : limit;
  }
  return limit;
}

int64_t Controller::next_event(int64_t clk) {
  // Cheapest first: the refresh, the in-order priority queue or else the read / write queue in use (the
  // ready index's root, exact unless a refresh was skipped, then a lower bound), and the active queue's
  // scan only when those leave the next tick open.
  int64_t best = next_refresh_;
  if (!priority_.empty()) {
    const Request& r = priority_.front();
    int cmd = preq(r);
    if (!would_close_active(r, cmd)) best = std::min(best, earliest(r, cmd));
  } else if (!allow_rw || allow_rw(clk + 1)) {
    best = std::min(best, index_.next(write_mode_after(write_mode_) ? kWriteQ : kReadQ));
  }
  if (best > clk + 1) best = active_bound(best);
  return std::max(best, clk + 1);
}

}  // namespace jitq::dram

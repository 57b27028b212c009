// Resolves a StandardDef (commands + constraint rows) into tick-valued flat tables, applying the
// same conventions Ramulator2 documents for its specs: all clock values are multiplied by the tick
// multiplier first; a constraint between commands that occupy the command bus for several ticks is
// measured from the end of each command (latency + (ticks(prev) - 1) - (ticks(next) - 1)); and
// multi-tick commands block their own bus for their length (bus-occupancy rows at the Channel level).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <stdexcept>

#include "jitq/dram/spec.hpp"

namespace jitq::dram {

int Spec::find_command(const std::string& name) const {
  for (int i = 0; i < ncmd(); ++i)
    if (cmds[i].name == name) return i;
  return -1;
}

int64_t Spec::capacity_bytes() const {
  int64_t banks = count[bank_level];
  return banks * rows * static_cast<int64_t>(column_accesses) * tx_bytes;
}

int64_t eval_latency(const std::string& expr, const std::map<std::string, int64_t>& values) {
  int64_t total = 0;
  int sign = 1;
  size_t i = 0;
  bool expect_term = true;
  while (i < expr.size()) {
    char c = expr[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '+' || c == '-') {
      if (expect_term) throw std::invalid_argument("bad latency expression '" + expr + "'");
      sign = (c == '+') ? 1 : -1;
      expect_term = true;
      ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < expr.size() && std::isdigit(static_cast<unsigned char>(expr[j]))) ++j;
      total += sign * std::stoll(expr.substr(i, j - i));
      i = j;
      expect_term = false;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[j])) || expr[j] == '_')) ++j;
      std::string name = expr.substr(i, j - i);
      auto it = values.find(name);
      if (it == values.end()) throw std::invalid_argument("timing parameter '" + name + "' is not set (needed by '" + expr + "')");
      total += sign * it->second;
      i = j;
      expect_term = false;
    } else {
      throw std::invalid_argument("bad character in latency expression '" + expr + "'");
    }
  }
  if (expect_term) throw std::invalid_argument("bad latency expression '" + expr + "'");
  return total;
}

Spec resolve_spec(const StandardDef& def, const Organization& org, const std::map<std::string, int64_t>& timing,
                  int tCK_ps) {
  Spec s;
  s.standard = def.name;
  s.controller = def.controller;
  s.n_levels = static_cast<int>(def.levels.size());
  if (s.n_levels > kMaxLevels) throw std::invalid_argument("too many levels in standard " + def.name);
  if (static_cast<int>(org.level_sizes.size()) != s.n_levels - 1)
    throw std::invalid_argument(def.name + ": organization needs " + std::to_string(s.n_levels - 1) + " level sizes");
  s.bank_level = s.n_levels - 1;
  s.level_names = def.levels;
  s.size[0] = 1;
  s.count[0] = 1;
  for (int l = 1; l < s.n_levels; ++l) {
    int n = org.level_sizes[l - 1];
    if (n <= 0 || (n & (n - 1)) != 0)
      throw std::invalid_argument(def.name + ": " + def.levels[l] + " count must be a positive power of two, got " + std::to_string(n));
    s.size[l] = n;
    s.count[l] = s.count[l - 1] * n;
  }
  auto level_of = [&](const std::string& name) {
    for (int l = 0; l < s.n_levels; ++l)
      if (def.levels[l] == name) return l;
    throw std::invalid_argument(def.name + ": unknown level '" + name + "'");
  };
  s.scope_level = level_of(def.all_bank_scope);
  for (int l = 0; l < s.n_levels; ++l)
    if (def.levels[l] == "BankGroup") s.bankgroup_level = l;
  auto pow2 = [](int v) { return v > 0 && (v & (v - 1)) == 0; };
  if (!pow2(org.rows) || !pow2(org.columns) || !pow2(org.prefetch) || org.columns < org.prefetch)
    throw std::invalid_argument(def.name + ": rows, columns and prefetch must be powers of two (columns >= prefetch)");
  s.rows = org.rows;
  s.column_accesses = org.columns / org.prefetch;
  s.channel_width = org.channel_width;
  s.tx_bytes = org.prefetch * org.channel_width / 8;
  if (s.tx_bytes <= 0 || !pow2(s.tx_bytes)) throw std::invalid_argument(def.name + ": channel_width * prefetch / 8 must be a power of two");
  s.tick_mult = def.tick_multiplier;
  s.tCK_ps = tCK_ps;
  s.tick_ps = static_cast<double>(tCK_ps) / def.tick_multiplier;
  s.timing_cycles = timing;

  for (const auto& p : def.timing_params)
    if (!timing.count(p)) throw std::invalid_argument(def.name + ": timing parameter '" + p + "' is missing");

  // Scale clocks to ticks.
  std::map<std::string, int64_t> ticks;
  for (const auto& [k, v] : timing) ticks[k] = v * def.tick_multiplier;

  for (const auto& c : def.commands) {
    int t = static_cast<int>(std::lround(c.ck_cycles * def.tick_multiplier));
    s.cmds.push_back({c.name, c.bus, c.scope, c.effect, std::max(1, t)});
  }
  const int nc = s.ncmd();
  auto cmd_of = [&](const std::string& name) {
    int id = s.find_command(name);
    if (id < 0) throw std::invalid_argument(def.name + ": unknown command '" + name + "' in timing table");
    return id;
  };
  s.id.ACT = s.find_command("ACT");
  s.id.PREpb = s.find_command("PREpb");
  s.id.PREab = s.find_command("PREab");
  s.id.RD = s.find_command("RD");
  s.id.WR = s.find_command("WR");
  s.id.RDA = s.find_command("RDA");
  s.id.WRA = s.find_command("WRA");
  s.id.REFab = s.find_command("REFab");
  s.id.REFpb = s.find_command("REFpb");

  std::vector<std::vector<TimingEntry>> table(static_cast<size_t>(s.n_levels) * nc);
  // Bus occupancy: a multi-tick command blocks every command on its bus for its length.
  for (int p = 0; p < nc; ++p) {
    if (s.cmds[p].ticks <= 1) continue;
    for (int f = 0; f < nc; ++f) {
      bool same_bus = s.cmds[p].bus == s.cmds[f].bus || s.cmds[p].bus == Bus::Shared || s.cmds[f].bus == Bus::Shared;
      if (same_bus) table[p].push_back({f, s.cmds[p].ticks, 1, false});
    }
  }
  for (const auto& row : def.constraints) {
    int level = level_of(row.level);
    if (row.window < 1 || row.window > kMaxWindow) throw std::invalid_argument(def.name + ": bad window in timing table");
    int64_t nominal = eval_latency(row.latency, ticks);
    for (const auto& pn : row.preceding) {
      int p = cmd_of(pn);
      for (const auto& fn : row.following) {
        int f = cmd_of(fn);
        int64_t lat = nominal + (s.cmds[p].ticks - 1) - (s.cmds[f].ticks - 1);
        table[static_cast<size_t>(level) * nc + p].push_back({f, static_cast<int>(lat), row.window, row.sibling});
      }
    }
  }
  s.begin.assign(static_cast<size_t>(s.n_levels) * nc + 1, 0);
  s.sib_begin.assign(static_cast<size_t>(s.n_levels) * nc + 1, 0);
  s.window_len.assign(static_cast<size_t>(s.n_levels) * nc, 0);
  s.has_sibling.assign(static_cast<size_t>(s.n_levels) * nc, 0);
  for (size_t i = 0; i < table.size(); ++i) {
    s.begin[i] = static_cast<int>(s.entries.size());
    s.sib_begin[i] = static_cast<int>(s.sib_entries.size());
    for (const auto& e : table[i]) {
      if (e.sibling) {
        s.has_sibling[i] = 1;
        s.sib_entries.push_back(e);
      } else {
        s.entries.push_back(e);
        s.window_len[i] = static_cast<unsigned char>(std::max<int>(s.window_len[i], e.window));
      }
    }
  }
  s.begin[table.size()] = static_cast<int>(s.entries.size());
  s.sib_begin[table.size()] = static_cast<int>(s.sib_entries.size());

  s.flat_begin.assign(nc + 1, 0);
  s.windowed_levels.assign(nc, {});
  s.sibling_levels.assign(nc, {});
  for (int p = 0; p < nc; ++p) {
    s.flat_begin[p] = static_cast<int>(s.flat.size());
    for (int l = 0; l < s.n_levels; ++l) {
      const size_t key = static_cast<size_t>(l) * nc + p;
      if (s.has_sibling[key] && l > 0) s.sibling_levels[p].push_back(l);
      if (s.window_len[key] > 1) {
        s.windowed_levels[p].push_back(l);
        continue;
      }
      for (int e = s.begin[key]; e < s.begin[key + 1]; ++e)
        s.flat.push_back({static_cast<int16_t>(l), static_cast<int16_t>(s.entries[e].follow), s.entries[e].latency});
    }
  }
  s.flat_begin[nc] = static_cast<int>(s.flat.size());

  s.read_latency = static_cast<int>(eval_latency(def.read_latency, ticks));
  s.nREFI = ticks.count("nREFI") ? ticks["nREFI"] : 0;
  s.nREFIpb = ticks.count("nREFIpb") ? ticks["nREFIpb"] : 0;
  return s;
}

}  // namespace jitq::dram

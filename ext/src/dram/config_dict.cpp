// Python dict <-> simulator types (see jitq/dram/config_dict.hpp).
#include "jitq/dram/config_dict.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace py = pybind11;

namespace jitq::dram {

SimConfig sim_config_from_dict(const py::dict& d) {
  SimConfig c;
  c.standard = dict_get<std::string>(d, "standard");
  c.org.level_sizes = dict_get<std::vector<int>>(d, "level_sizes");
  c.org.rows = dict_get<int>(d, "rows");
  c.org.columns = dict_get<int>(d, "columns");
  c.org.prefetch = dict_get<int>(d, "prefetch");
  c.org.channel_width = dict_get<int>(d, "channel_width");
  c.timing = dict_get<std::map<std::string, int64_t>>(d, "timing");
  c.tCK_ps = dict_get<int>(d, "tCK_ps");
  c.channels = dict_get<int>(d, "channels");
  const std::string m = dict_get<std::string>(d, "address_mapping");
  if (m == "RoBaRaCoCh") c.mapping = Mapping::RoBaRaCoCh;
  else if (m == "RoCoBaRaCh") c.mapping = Mapping::RoCoBaRaCh;
  else if (m == "ChRaBaRoCo") c.mapping = Mapping::ChRaBaRoCo;
  else if (m == "RoBaRaCoCh_XOR") c.mapping = Mapping::RoBaRaCoChXor;
  else throw std::invalid_argument("unknown address_mapping '" + m + "'");
  c.wrap = dict_get<std::string>(d, "address_overflow") == "wrap";
  c.controller.read_buffer_size = dict_get<int>(d, "read_buffer_size");
  c.controller.write_buffer_size = dict_get<int>(d, "write_buffer_size");
  c.controller.wr_low_watermark = dict_get<double>(d, "wr_low_watermark");
  c.controller.wr_high_watermark = dict_get<double>(d, "wr_high_watermark");
  c.controller.row_policy = dict_get<std::string>(d, "row_policy") == "closed" ? RowPolicy::Closed : RowPolicy::Open;
  const std::string rf = dict_get<std::string>(d, "refresh");
  c.controller.refresh = rf == "none"       ? RefreshPolicy::None
                         : rf == "per-bank" ? RefreshPolicy::PerBank
                                            : RefreshPolicy::AllBank;
  c.controller.read_forwarding = dict_get<bool>(d, "read_forwarding");
  c.requests_per_clock = dict_get<int>(d, "requests_per_clock");
  if (d.contains("tick_every_cycle")) c.tick_every_cycle = dict_get<bool>(d, "tick_every_cycle");
  c.controller.exact_scan = c.tick_every_cycle;
  return c;
}

const int64_t* checked_arrival(const AddrArray& addr, const FlagArray& is_write, const py::object& arrival,
                               TickArray& holder) {
  if (addr.ndim() != 1 || is_write.ndim() != 1 || addr.shape(0) != is_write.shape(0))
    throw std::invalid_argument("addrs and is_write must be 1-D arrays of the same length");
  if (arrival.is_none()) return nullptr;
  holder = arrival.cast<TickArray>();
  if (holder.ndim() != 1 || holder.shape(0) != addr.shape(0))
    throw std::invalid_argument("arrival must be a 1-D array as long as addrs");
  return holder.data();
}

py::dict sim_result_dict(SimResult& r) {
  py::dict out;
  out["cycles"] = r.cycles;
  out["accept_cycles"] = r.accept_cycles;
  out["tick_ps"] = r.tick_ps;
  out["tx_bytes"] = r.tx_bytes;
  out["reads"] = r.total.reads;
  out["writes"] = r.total.writes;
  out["row_hits"] = r.total.row_hits;
  out["row_misses"] = r.total.row_misses;
  out["row_conflicts"] = r.total.row_conflicts;
  out["read_forwarded"] = r.total.read_forwarded;
  out["write_coalesced"] = r.total.write_coalesced;
  out["ticks_simulated"] = r.ticks_simulated;
  py::dict cmds;
  for (size_t k = 0; k < r.command_names.size(); ++k) cmds[py::str(r.command_names[k])] = r.total.cmd_counts[k];
  out["commands"] = cmds;
  auto& lat = r.total.read_latency;
  double avg = 0;
  int64_t p99 = 0;
  if (!lat.empty()) {
    long double sum = 0;
    for (int32_t v : lat) sum += v;
    avg = static_cast<double>(sum / lat.size());
    size_t k = static_cast<size_t>(0.99 * (lat.size() - 1));
    std::nth_element(lat.begin(), lat.begin() + k, lat.end());
    p99 = lat[k];
  }
  out["avg_read_latency_ticks"] = avg;
  out["p99_read_latency_ticks"] = p99;
  return out;
}

py::list timing_table_list(const Spec& s) {
  py::list table;
  auto add = [&](int level, int prec, const TimingEntry& t) {
    table.append(py::make_tuple(s.level_names[level], s.cmds[prec].name, s.cmds[t.follow].name, t.latency, t.window,
                                t.sibling));
  };
  for (int l = 0; l < s.n_levels; ++l)
    for (int p = 0; p < s.ncmd(); ++p) {
      const size_t key = static_cast<size_t>(l) * s.ncmd() + p;
      for (int e = s.begin[key]; e < s.begin[key + 1]; ++e) add(l, p, s.entries[e]);
      for (int e = s.sib_begin[key]; e < s.sib_begin[key + 1]; ++e) add(l, p, s.sib_entries[e]);
    }
  return table;
}

}  // namespace jitq::dram

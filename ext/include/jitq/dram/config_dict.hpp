// Conversions between the flat Python dicts of harness.memsim and the simulator's C++ types. One copy
// serves harness._dram.simulate / spec_info (ext/bindings/dram_module.cpp) and the PIM bindings
// (ext/src/dram/pim_bindings.cpp), so that both read a DramConfig.engine_config() dict the same way.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "jitq/dram/simulator.hpp"

namespace jitq::dram {

// A required key of a config dict; throws std::invalid_argument "<what> is missing '<key>'", or
// "<what>: '<key>' has the wrong type (<type>)" when the value does not convert.
template <class T>
T dict_get(const pybind11::dict& d, const char* key, const char* what = "simulator config") {
  if (!d.contains(key)) throw std::invalid_argument(std::string(what) + " is missing '" + key + "'");
  const pybind11::object v = d[key];
  try {
    return v.cast<T>();
  } catch (const pybind11::cast_error&) {
    throw std::invalid_argument(std::string(what) + ": '" + key + "' has the wrong type (" +
                                pybind11::str(pybind11::type::handle_of(v).attr("__name__")).cast<std::string>() + ")");
  }
}

// The flat dict of harness.memsim DramConfig.engine_config() as a SimConfig (command_log left empty).
SimConfig sim_config_from_dict(const pybind11::dict& d);

using AddrArray = pybind11::array_t<uint64_t, pybind11::array::c_style | pybind11::array::forcecast>;
using FlagArray = pybind11::array_t<uint8_t, pybind11::array::c_style | pybind11::array::forcecast>;
using TickArray = pybind11::array_t<int64_t, pybind11::array::c_style | pybind11::array::forcecast>;

// Checks that addrs / is_write (and arrival unless None) are 1-D and equally long; returns arrival's
// data (nullptr for None), which `holder` keeps alive.
const int64_t* checked_arrival(const AddrArray& addr, const FlagArray& is_write, const pybind11::object& arrival,
                               TickArray& holder);

// The raw counters of a run (harness.memsim builds the stats dict from them). Sorts part of
// r.total.read_latency in place to find the 99th percentile.
pybind11::dict sim_result_dict(SimResult& r);

// The resolved timing table in ticks, every row including the sibling ones:
// [(level, preceding, following, latency, window, sibling)].
pybind11::list timing_table_list(const Spec& s);

}  // namespace jitq::dram

// harness._dram: the cycle-level DRAM simulator (see ext/include/jitq/dram/ and docs/dram-simulator.md).
// The Python side (harness.memsim) validates the YAML config and passes a flat dict; arrays are passed
// without a Python call per request.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>

#include "jitq/dram/config_dict.hpp"
#include "jitq/dram/simulator.hpp"
#include "jitq/dram/trace_reader.hpp"
#if __has_include("jitq/dram/pim_bindings.hpp")
#include "jitq/dram/pim_bindings.hpp"
#define JITQ_HAVE_PIM_BINDINGS 1
#endif

namespace py = pybind11;
using namespace jitq::dram;

namespace {

py::dict spec_info(const py::dict& d) {
  SimConfig c = sim_config_from_dict(d);
  Spec s = make_spec(c);
  AddressMapper mapper(s, c.channels, c.mapping, true);
  py::dict out;
  out["capacity_bytes"] = mapper.capacity();
  out["tx_bytes"] = s.tx_bytes;
  out["tick_ps"] = s.tick_ps;
  out["tick_multiplier"] = s.tick_mult;
  out["read_latency_ticks"] = s.read_latency;
  py::list cmds;
  for (const auto& cmd : s.cmds) cmds.append(cmd.name);
  out["commands"] = cmds;
  out["levels"] = s.level_names;
  // Resolved timing table in ticks: (level, preceding, following, latency, window, sibling).
  out["timing_table"] = timing_table_list(s);
  return out;
}

py::dict run(const py::dict& d, AddrArray addr, FlagArray is_write, py::object arrival, std::string command_log) {
  SimConfig c = sim_config_from_dict(d);
  c.command_log = command_log;
  TickArray arr;
  const int64_t* arr_ptr = checked_arrival(addr, is_write, arrival, arr);
  const size_t n = static_cast<size_t>(addr.shape(0));
  SimResult r;
  {
    py::gil_scoped_release release;
    r = simulate(c, addr.data(), is_write.data(), arr_ptr, n);
  }
  return sim_result_dict(r);
}

}  // namespace

PYBIND11_MODULE(_dram, m) {
  m.doc() = "Cycle-level DRAM simulator (HBM3, HBM2E, DDR4) with PIM quantize commands.";
  m.attr("__version__") = "0.1.0";
  m.def("simulate", &run, py::arg("config"), py::arg("addrs"), py::arg("is_write"), py::arg("arrival") = py::none(),
        py::arg("command_log") = std::string(),
        "Run a request stream; returns raw counters (harness.memsim.simulate builds the stats dict).");
  m.def("spec_info", &spec_info, py::arg("config"), "Resolved standard: capacity, tx bytes, tick, timing table in ticks.");
  m.def("standards", &standard_names);
  py::register_exception<TraceFormatError>(m, "TraceFormatError", PyExc_ValueError);
  m.def(
      "read_loadstore_trace",
      [](const std::string& path) {
        LoadStoreTrace t;
        {
          py::gil_scoped_release release;
          t = read_loadstore_trace(path);
        }
        py::array_t<uint64_t> a(static_cast<py::ssize_t>(t.addr.size()));
        py::array_t<bool> w(static_cast<py::ssize_t>(t.is_write.size()));
        std::copy(t.addr.begin(), t.addr.end(), a.mutable_data());
        auto* wp = w.mutable_data();
        for (size_t k = 0; k < t.is_write.size(); ++k) wp[k] = t.is_write[k] != 0;
        return py::make_tuple(a, w);
      },
      py::arg("path"), "Parse a LoadStoreTrace file into (addrs uint64, is_write bool).");
#ifdef JITQ_HAVE_PIM_BINDINGS
  jitq::dram::bind_pim(m);
#endif
}

// harness._dram.PimMemoryImage and friends (see jitq/dram/pim_memory.hpp).
#include "jitq/dram/pim_bindings.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "jitq/dram/config_dict.hpp"
#include "jitq/dram/pim_memory.hpp"
#include "jitq/dram/pim_timing.hpp"

namespace py = pybind11;

namespace jitq::dram {

namespace {

mx::Format format_from(const std::string& name) {
  auto f = mx::parse_format(name);
  if (!f) throw std::invalid_argument("unknown MX format '" + name + "'");
  return *f;
}

// Keys of the PIM dict (harness.memsim.pim_timing.engine_pim_params).
template <class T>
T get(const py::dict& d, const char* key) {
  return dict_get<T>(d, key, "PIM simulator config");
}

PimParams pim_params(const py::dict& d) {
  PimParams p;
  p.command_interval = get<int>(d, "command_interval");
  p.compute_cycles = get<int>(d, "compute_cycles_per_block");
  p.act_counts_tfaw = get<int>(d, "act_counts_tfaw");
  const std::string pol = get<std::string>(d, "policy");
  if (pol == "blocking") p.policy = PimPolicy::Blocking;
  else if (pol == "interleave") p.policy = PimPolicy::Interleave;
  else if (pol == "bank-partition") p.policy = PimPolicy::BankPartition;
  else throw std::invalid_argument("unknown PIM policy '" + pol + "' (blocking, interleave, bank-partition)");
  p.chunk_groups = get<int>(d, "chunk_groups");
  p.high_priority = get<std::string>(d, "priority") == "high";
  if (d.contains("max_wait")) p.max_wait = get<int>(d, "max_wait");
  return p;
}

template <class T>
std::vector<T> to_vec(const py::handle& h) {
  auto a = py::cast<py::array_t<T, py::array::c_style | py::array::forcecast>>(h);
  if (a.ndim() != 1) throw std::invalid_argument("PIM program arrays must be 1-D");
  return std::vector<T>(a.data(), a.data() + a.shape(0));
}

py::list timing_table(const py::dict& config, const py::dict& pim) {
  SimConfig c = sim_config_from_dict(config);
  PimParams p = pim_params(pim);
  return timing_table_list(resolve_spec(with_pim(standard(c.standard), p), c.org, pim_timing(c.timing, p), c.tCK_ps));
}

py::dict run_pim(const py::dict& config, const py::dict& pim, const py::list& programs, AddrArray addr,
                 FlagArray is_write, py::object arrival, std::string command_log) {
  SimConfig c = sim_config_from_dict(config);
  c.command_log = command_log;
  PimParams p = pim_params(pim);
  std::vector<PimProgram> progs;
  for (const auto& item : programs) {
    auto t = py::cast<py::tuple>(item);
    if (t.size() != 4) throw std::invalid_argument("a PIM program is (op, row, col, group_end)");
    progs.push_back({to_vec<int8_t>(t[0]), to_vec<int64_t>(t[1]), to_vec<int32_t>(t[2]), to_vec<int64_t>(t[3])});
  }
  TickArray arr;
  const int64_t* arr_ptr = checked_arrival(addr, is_write, arrival, arr);
  const size_t n = static_cast<size_t>(addr.shape(0));
  PimRunResult r;
  {
    py::gil_scoped_release release;
    r = simulate_with_pim(c, p, progs, addr.data(), is_write.data(), arr_ptr, n);
  }
  py::dict out = sim_result_dict(r.sim);
  out["last_host_tick"] = r.sim.total.last_completion;
  out["pim_kernel_start_ticks"] = r.kernel_start;
  out["pim_kernel_end_ticks"] = r.kernel_end;
  return out;
}

SrcDtype dtype_from(const std::string& name) {
  if (name == "fp32") return SrcDtype::FP32;
  if (name == "bf16") return SrcDtype::BF16;
  throw std::invalid_argument("unknown src_dtype '" + name + "' (fp32 or bf16)");
}

}  // namespace

void bind_pim(py::module_& m) {
  py::class_<MemoryImage>(m, "PimMemoryImage",
                          "Sparse byte image of the DRAM address space (pages allocated on first write).")
      .def(py::init<std::uint64_t>(), py::arg("capacity_bytes"))
      .def_property_readonly("capacity", &MemoryImage::capacity)
      .def_property_readonly("pages", &MemoryImage::pages)
      .def(
          "write",
          [](MemoryImage& img, std::uint64_t addr, py::array_t<std::uint8_t, py::array::c_style> data) {
            img.write(addr, data.data(), static_cast<std::size_t>(data.size()));
          },
          py::arg("addr"), py::arg("data"))
      .def(
          "read",
          [](const MemoryImage& img, std::uint64_t addr, std::size_t n) {
            py::array_t<std::uint8_t> out(static_cast<py::ssize_t>(n));
            img.read(addr, out.mutable_data(), n);
            return out;
          },
          py::arg("addr"), py::arg("n"))
      .def(
          "quantize",
          [](MemoryImage& img, std::uint64_t src, std::uint64_t dst, std::int64_t rows, std::int64_t cols,
             const std::string& src_dtype, const std::string& fmt, bool forward) {
            QuantizeRequest req{src, dst, rows, cols, dtype_from(src_dtype), format_from(fmt), forward};
            py::gil_scoped_release release;
            run_quantize(img, req);
            return quantize_out_bytes(req);
          },
          py::arg("src"), py::arg("dst"), py::arg("rows"), py::arg("cols"), py::arg("src_dtype"),
          py::arg("fmt"), py::arg("forward"));
  m.def("pim_simulate", &run_pim, py::arg("config"), py::arg("pim"), py::arg("programs"), py::arg("addrs"),
        py::arg("is_write"), py::arg("arrival") = py::none(), py::arg("command_log") = std::string(),
        "Host requests plus PIM kernel programs (harness.memsim.pim.simulate_with_pim builds the stats).");
  m.def("pim_timing_table", &timing_table, py::arg("config"), py::arg("pim"),
        "Resolved timing table (ticks) of the standard with the PIM commands: (level, prev, next, latency, window, sibling).");
}

}  // namespace jitq::dram

// harness._dram: the cycle-level DRAM simulator (see ext/include/jitq/dram/).
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_dram, m) {
  m.doc() = "Cycle-level DRAM simulator (HBM3, HBM2E, DDR4) with PIM quantize commands.";
  m.attr("__version__") = "0.1.0";
}

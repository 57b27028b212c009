// harness._mx: the MX quantization kernel (see ext/include/jitq/mx/).
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_mx, m) {
  m.doc() = "Bit-exact MX (OCP MX v1.0 and MX9/MX6/MX4) encode/decode kernels.";
  m.attr("__version__") = "0.1.0";
}

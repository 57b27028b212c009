// harness._mx: the MX quantization kernel (ext/include/jitq/mx/kernel.hpp) for numpy arrays.
//
// The Python side (harness/mx/api.py) checks the arguments and views the input as a C-contiguous
// float32 array of shape (pre, len, post) blocked along len; this module allocates the outputs and
// runs the kernel with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../src/mx/parallel.hpp"
#include "jitq/mx/kernel.hpp"

namespace py = pybind11;
namespace mx = jitq::mx;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;
using ByteArray = py::array_t<std::uint8_t, py::array::c_style>;

mx::Format format_of(const std::string& name) {
  const auto f = mx::parse_format(name);
  if (!f) throw py::value_error("unknown MX format '" + name + "'");
  return *f;
}

mx::Layout layout_of(std::size_t pre, std::size_t len, std::size_t post) {
  return mx::Layout{pre, len, post};
}

void check_size(const char* what, std::size_t have, std::size_t need) {
  if (have != need) {
    throw py::value_error(std::string(what) + " has " + std::to_string(have) + " items, expected " +
                          std::to_string(need));
  }
}

py::tuple encode(const std::string& fmt, const FloatArray& x, std::size_t pre, std::size_t len,
                 std::size_t post) {
  const mx::Format f = format_of(fmt);
  const mx::Layout l = layout_of(pre, len, post);
  check_size("input", static_cast<std::size_t>(x.size()), pre * len * post);
  const std::size_t nb = mx::total_blocks(f, l);
  ByteArray scales(static_cast<py::ssize_t>(nb * mx::info(f).scale_bytes));
  ByteArray elements(static_cast<py::ssize_t>(nb * mx::info(f).element_bytes));
  const float* src = x.data();
  std::uint8_t* s = scales.mutable_data();
  std::uint8_t* e = elements.mutable_data();
  {
    py::gil_scoped_release release;
    mx::run_parallel(mx::Mode::Encode, f, src, nullptr, nullptr, s, nullptr, e, l);
  }
  return py::make_tuple(scales, elements);
}

FloatArray decode(const std::string& fmt, const ByteArray& scales, const ByteArray& elements,
                  std::size_t pre, std::size_t len, std::size_t post) {
  const mx::Format f = format_of(fmt);
  const mx::Layout l = layout_of(pre, len, post);
  const std::size_t nb = mx::total_blocks(f, l);
  check_size("scales", static_cast<std::size_t>(scales.size()), nb * mx::info(f).scale_bytes);
  check_size("elements", static_cast<std::size_t>(elements.size()), nb * mx::info(f).element_bytes);
  FloatArray out(static_cast<py::ssize_t>(pre * len * post));
  const std::uint8_t* s = scales.data();
  const std::uint8_t* e = elements.data();
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    mx::run_parallel(mx::Mode::Decode, f, nullptr, dst, s, nullptr, e, nullptr, l);
  }
  return out;
}

FloatArray quantize_dequantize(const std::string& fmt, const FloatArray& x, std::size_t pre,
                               std::size_t len, std::size_t post) {
  const mx::Format f = format_of(fmt);
  const mx::Layout l = layout_of(pre, len, post);
  check_size("input", static_cast<std::size_t>(x.size()), pre * len * post);
  FloatArray out(static_cast<py::ssize_t>(pre * len * post));
  const float* src = x.data();
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    mx::run_parallel(mx::Mode::QuantizeDequantize, f, src, dst, nullptr, nullptr, nullptr, nullptr, l);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_mx, m) {
  m.doc() = "Bit-exact MX (OCP MX v1.0 and MX9/MX6/MX4) encode/decode kernels.";
  m.attr("__version__") = "0.1.0";
  py::list names;
  for (const auto& fi : mx::kFormatTable) names.append(py::str(std::string(fi.name)));
  m.attr("FORMAT_NAMES") = names;
  m.def("encode", &encode, py::arg("fmt"), py::arg("x"), py::arg("pre"), py::arg("len"),
        py::arg("post"),
        "Encode float32 x viewed as (pre, len, post), blocked along len -> (scales, elements).");
  m.def("decode", &decode, py::arg("fmt"), py::arg("scales"), py::arg("elements"), py::arg("pre"),
        py::arg("len"), py::arg("post"), "Decode to a flat float32 array of pre*len*post values.");
  m.def("quantize_dequantize", &quantize_dequantize, py::arg("fmt"), py::arg("x"), py::arg("pre"),
        py::arg("len"), py::arg("post"), "decode(encode(x)) without packing, flat float32 result.");
  m.def("num_threads", &mx::num_threads, "Threads used for large inputs.");
  m.def("isa", &mx::isa, "Instruction set the kernel runs with: 'avx2' or 'baseline'.");
  m.def(
      "set_isa", [](const std::string& name) { return mx::set_isa(name.c_str()); }, py::arg("name"),
      "Choose 'baseline' or 'avx2' (if the CPU has it); returns whether it was accepted.");
  m.def("set_num_threads", &mx::set_num_threads, py::arg("n"),
        "Set the thread count for large inputs (n < 1 restores the default).");
}

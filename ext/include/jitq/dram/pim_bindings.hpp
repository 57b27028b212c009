// Python bindings of the PIM model, registered into harness._dram by ext/bindings/dram_module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace jitq::dram {

void bind_pim(pybind11::module_& m);

}  // namespace jitq::dram

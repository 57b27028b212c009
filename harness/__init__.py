"""JIT-Q harness: memory capacity saved against training throughput lost when MX weight
copies are made just in time (by GPU kernels or by PIM units in HBM) instead of stored.

Sub-packages are named for what they hold: ``mx`` (MX formats), ``memsim`` (the DRAM simulator's
Python side), ``capture`` (trace capture), ``jitq`` (the experiment), ``report`` (tables, figures).
"""

__version__ = "0.1.0"

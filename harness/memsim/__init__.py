"""Python side of the cycle-level DRAM simulator ``harness._dram``: configs, traces, runs."""

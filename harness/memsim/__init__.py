"""Python side of the cycle-level DRAM simulator ``harness._dram``: configs, traces, runs.

``load_config`` reads a Ramulator2-style YAML preset (``configs/dram/*.yaml``) with overrides,
``read_loadstore_trace`` parses LoadStoreTrace files, ``simulate`` runs numpy arrays of requests.
"""

from .config import ConfigError, DramConfig, load_config
from .run import simulate
from .trace import TraceError, read_loadstore_trace, write_loadstore_trace

__all__ = [
    "ConfigError",
    "DramConfig",
    "TraceError",
    "load_config",
    "read_loadstore_trace",
    "simulate",
    "write_loadstore_trace",
]

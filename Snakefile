# The reproducible grid: models x MX formats x schemes x memory configs.
# The workflow issue fills this in (configs/grid.yaml, rules, report). For now a single target.

rule all:
    message: "The JIT-Q grid is not defined yet; see README.md."

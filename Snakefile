# The JIT-Q grid: capture one training-step trace per model, run one `jitq run` per grid cell
# (model x MX format x scheme x GPU x DRAM preset x recipe), aggregate the records into a tidy table,
# draw the figures and build the dashboard.
#
#   snakemake --profile profiles/default            # laptop: the grid in configs/grid.yaml
#   snakemake --profile profiles/slurm              # the same workflow on a SLURM cluster
#   snakemake --profile profiles/default --report results/report.html
#
# configs/grid.yaml is validated against workflow/schemas/grid.schema.yaml before any job runs.

from snakemake.utils import min_version

min_version("9.0")


configfile: "configs/grid.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/capture.smk"
include: "workflow/rules/run.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/dashboard.smk"
include: "workflow/rules/accuracy.smk"


rule all:
    default_target: True
    input:
        final_outputs(),


rule grid:
    input:
        cell_records(),

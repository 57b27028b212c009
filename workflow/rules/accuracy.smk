# The accuracy study (issue 8): one `jitq train` per format (every grid format + the fp32/bf16 baselines),
# then a table and a loss-curve figure for the dashboard.
#
#   snakemake --profile profiles/default accuracy_short   # a few hundred steps per format (default run)
#   snakemake --profile profiles/default accuracy_full    # the longer study, its own files
#
# Config keys under `accuracy:` in configs/grid.yaml (defaults below apply when a key is left out):
#   default_run: true              # build the short study in `rule all` (accuracy_default_outputs())
#   formats: grid | [MX formats]   # "grid" = the grid's `formats`
#   baselines: [fp32, bf16]
#   backward_format: same | <MX format>   # "same" = each run's forward format
#   seed: 0
#   threads: 1                     # torch intra-op threads per run (part of the record: keep fixed)
#   short: {preset: short, steps: 300, eval_every: 50, runtime: 15}
#   full:  {preset: full, steps: 2000, eval_every: 200, runtime: 240}
# Each run is deterministic for a given config and thread count; see docs/accuracy.md.

include: "accuracy_common.smk"


rule accuracy_train:
    output:
        "results/{accuracy_dir}/format={format}.json",
    params:
        args=_acc_train_args,
    log:
        "results/logs/{accuracy_dir}/format={format}.log",
    benchmark:
        "results/benchmarks/{accuracy_dir}/format={format}.tsv"
    wildcard_constraints:
        accuracy_dir="accuracy|accuracy-full",
        format="fp32|bf16|MX[A-Z0-9_]+",
    conda:
        "../envs/jitq.yaml"
    threads: accuracy_setting("threads")
    resources:
        mem_mb=2000,
        runtime=lambda wildcards: accuracy_setting("runtime", _acc_study(wildcards)),
    shell:
        "jitq train --format {wildcards.format} {params.args} --threads {threads}"
        " --out {output} 2> {log}"


rule accuracy_summary:
    input:
        lambda wildcards: accuracy_records(_acc_study(wildcards)),
    output:
        table="results/{accuracy_dir}.parquet",
        csv="results/{accuracy_dir}.csv",
    log:
        "results/logs/{accuracy_dir}/summary.log",
    wildcard_constraints:
        accuracy_dir="accuracy|accuracy-full",
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m harness.report.accuracy table --out {output.table} --csv {output.csv} {input}"
        " > {log} 2>&1"


rule accuracy_loss_curves:
    input:
        lambda wildcards: accuracy_records("short" if wildcards.suffix == "" else "full"),
    output:
        png="results/figures/loss_curves{suffix}.png",
        svg="results/figures/loss_curves{suffix}.svg",
    log:
        "results/logs/accuracy_loss_curves{suffix}.log",
    wildcard_constraints:
        suffix="|_full",
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m harness.report.accuracy figure --out {output.png} --svg {output.svg} {input}"
        " > {log} 2>&1"


rule accuracy_short:
    input:
        accuracy_table("short"),
        accuracy_figure("short", "png"),
        accuracy_figure("short", "svg"),


rule accuracy_full:
    input:
        accuracy_table("full"),
        accuracy_figure("full", "png"),
        accuracy_figure("full", "svg"),

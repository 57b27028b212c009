# All cell records -> the tidy grid table (parquet + csv) and the per-layer table.


rule aggregate:
    input:
        cell_records(),
    output:
        parquet="results/grid.parquet",
        csv=report("results/grid.csv", caption="../report/grid.rst", category="Tables"),
        layers="results/layers.parquet",
    log:
        "results/logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report aggregate --out {output.parquet} --csv {output.csv}"
        " --layers {output.layers} {input} > {log} 2>&1"

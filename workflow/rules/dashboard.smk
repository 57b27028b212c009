# One self-contained HTML page: headline table, figures, the whole grid as a sortable, filterable table.


rule dashboard:
    input:
        unpack(dashboard_accuracy_inputs),
        grid="results/grid.parquet",
        figures=figure_files("png"),
    output:
        report(
            "results/dashboard.html",
            caption="../report/dashboard.rst",
            category="Dashboard",
        ),
    params:
        headline_scheme=config["report"]["headline_scheme"],
        accuracy=dashboard_accuracy_args,
    log:
        "results/logs/dashboard.log",
    benchmark:
        "results/benchmarks/dashboard.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "jitq report dashboard --grid {input.grid} --headline-scheme {params.headline_scheme}"
        " {params.accuracy} --out {output} {input.figures} > {log} 2>&1"

# One rule per figure; each writes a PNG (shown in `snakemake --report` and the dashboard) and an SVG.


rule figure_memory_by_category:
    input:
        grid="results/grid.parquet",
    output:
        png=report(
            "results/figures/memory_by_category.png",
            caption="../report/memory_by_category.rst",
            category="Figures",
        ),
        svg="results/figures/memory_by_category.svg",
    params:
        fmt=config["report"]["memory_format"],
    log:
        "results/logs/figures/memory_by_category.log",
    benchmark:
        "results/benchmarks/figures/memory_by_category.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report figure memory_by_category --grid {input.grid} --format {params.fmt}"
        " --png {output.png} --svg {output.svg} > {log} 2>&1"


rule figure_capacity_saving_heatmap:
    input:
        grid="results/grid.parquet",
    output:
        png=report(
            "results/figures/capacity_saving_heatmap.png",
            caption="../report/capacity_saving_heatmap.rst",
            category="Figures",
        ),
        svg="results/figures/capacity_saving_heatmap.svg",
    log:
        "results/logs/figures/capacity_saving_heatmap.log",
    benchmark:
        "results/benchmarks/figures/capacity_saving_heatmap.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report figure capacity_saving_heatmap --grid {input.grid}"
        " --png {output.png} --svg {output.svg} > {log} 2>&1"


rule figure_throughput_loss_heatmap:
    input:
        grid="results/grid.parquet",
    output:
        png=report(
            "results/figures/throughput_loss_heatmap.png",
            caption="../report/throughput_loss_heatmap.rst",
            category="Figures",
        ),
        svg="results/figures/throughput_loss_heatmap.svg",
    log:
        "results/logs/figures/throughput_loss_heatmap.log",
    benchmark:
        "results/benchmarks/figures/throughput_loss_heatmap.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report figure throughput_loss_heatmap --grid {input.grid}"
        " --png {output.png} --svg {output.svg} > {log} 2>&1"


rule figure_pim_keeps_up:
    input:
        grid="results/grid.parquet",
        layers="results/layers.parquet",
    output:
        png=report(
            "results/figures/pim_keeps_up.png",
            caption="../report/pim_keeps_up.rst",
            category="Figures",
        ),
        svg="results/figures/pim_keeps_up.svg",
    log:
        "results/logs/figures/pim_keeps_up.log",
    benchmark:
        "results/benchmarks/figures/pim_keeps_up.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report figure pim_keeps_up --grid {input.grid} --layers {input.layers}"
        " --png {output.png} --svg {output.svg} > {log} 2>&1"


rule figure_largest_model:
    input:
        grid="results/grid.parquet",
    output:
        png=report(
            "results/figures/largest_model.png",
            caption="../report/largest_model.rst",
            category="Figures",
        ),
        svg="results/figures/largest_model.svg",
    log:
        "results/logs/figures/largest_model.log",
    benchmark:
        "results/benchmarks/figures/largest_model.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "jitq report figure largest_model --grid {input.grid}"
        " --png {output.png} --svg {output.svg} > {log} 2>&1"

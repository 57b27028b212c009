# One `jitq run` per grid cell; the record names its parameters in its path.


rule run_cell:
    input:
        trace=TRACE_DIR,
    output:
        RUN_RECORD,
    params:
        backward=backward_args,
    log:
        f"results/logs/run_cell/{CELL}.log",
    benchmark:
        f"results/benchmarks/run_cell/{CELL}.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "jitq run --model {wildcards.model} --format {wildcards.format} {params.backward}"
        " --scheme {wildcards.scheme} --gpu {wildcards.gpu} --dram {wildcards.dram}"
        " --recipe {wildcards.recipe} --trace {input.trace} --out {output} > {log} 2>&1"

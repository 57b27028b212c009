# One training-step trace per model, shared by every cell of that model.


rule capture:
    output:
        directory(TRACE_DIR),
    params:
        settings=lambda wildcards: capture_settings(wildcards.model),
    log:
        "results/logs/capture/model={model}.log",
    benchmark:
        "results/benchmarks/capture/model={model}.tsv"
    conda:
        "../envs/jitq.yaml"
    threads: 1
    resources:
        mem_mb=capture_mem_mb,
        runtime=30,
    shell:
        "jitq capture --model {wildcards.model} --mode {params.settings[mode]}"
        " --batch {params.settings[batch]} --seq {params.settings[seq]}"
        " --optimizer {params.settings[optimizer]} --steps {params.settings[steps]}"
        " --out {output} > {log} 2>&1"

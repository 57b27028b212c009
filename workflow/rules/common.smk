# Configuration checks and the helpers that turn the grid config into file lists.

import itertools

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from harness.paths import list_presets

validate(config, schema="../schemas/grid.schema.yaml")


def _check_presets(key, kind):
    known = list_presets(kind)
    for name in config[key]:
        if name not in known:
            raise WorkflowError(
                f"config key '{key}': unknown {kind} preset {name!r}; "
                f"known: {', '.join(known) or 'none'} (files in configs/{kind}/)"
            )


_check_presets("gpus", "gpus")
_check_presets("drams", "dram")
_check_presets("recipes", "recipes")
if config["report"]["memory_format"] not in config["formats"]:
    raise WorkflowError(
        f"config key 'report.memory_format': {config['report']['memory_format']!r} is not one of "
        f"the grid's formats {config['formats']}"
    )
_unknown_per_model = sorted(set(config["capture"]["per_model"]) - set(config["models"]))
if _unknown_per_model:
    raise WorkflowError(
        f"config key 'capture.per_model': {_unknown_per_model} not in 'models' {config['models']}"
    )

# Result paths name their parameters; a value never contains "/".
CELL = "model={model}/format={format}/scheme={scheme}/gpu={gpu}/dram={dram}/recipe={recipe}"
RUN_RECORD = f"results/runs/{CELL}.json"
TRACE_DIR = "traces/grid/model={model}"
FIGURES = [
    "memory_by_category",
    "capacity_saving_heatmap",
    "throughput_loss_heatmap",
    "pim_keeps_up",
    "largest_model",
]


wildcard_constraints:
    model="[^/]+",
    format="[^/]+",
    scheme="[^/]+",
    gpu="[^/]+",
    dram="[^/]+",
    recipe="[^/]+",


def capture_settings(model):
    """Mode, batch, seq, optimizer and steps of one model's trace (per-model overrides applied)."""
    c = config["capture"]
    s = {k: c[k] for k in ("mode", "batch", "seq", "optimizer", "steps")}
    s.update(c["per_model"].get(model, {}))
    return s


def backward_args(wildcards):
    b = config["backward_format"]
    if b == "recipe":
        return ""
    return f"--backward-format {wildcards.format if b == 'same' else b}"


def cell_records():
    return [
        RUN_RECORD.format(model=m, format=f, scheme=s, gpu=g, dram=d, recipe=r)
        for m, f, s, g, d, r in itertools.product(
            config["models"],
            config["formats"],
            config["schemes"],
            config["gpus"],
            config["drams"],
            config["recipes"],
        )
    ]


def figure_files(ext="png"):
    return [f"results/figures/{name}.{ext}" for name in FIGURES]


def final_outputs():
    # accuracy_default_outputs() (workflow/rules/accuracy.smk): the short accuracy study, when
    # accuracy.default_run is true.
    return [
        "results/grid.parquet",
        "results/grid.csv",
        *figure_files("png"),
        *figure_files("svg"),
        *accuracy_default_outputs(),
        "results/dashboard.html",
    ]


def dashboard_accuracy_inputs(wildcards):
    """The short accuracy study's table and loss-curve figure, when the default run includes it."""
    if not config["accuracy"]["default_run"]:
        return {}
    return {
        "accuracy": accuracy_table("short"),
        "loss_curves": accuracy_figure("short", "png"),
    }


def dashboard_accuracy_args(wildcards, input):
    if "accuracy" not in input.keys():
        return ""
    return f"--accuracy {input.accuracy} --loss-curves {input.loss_curves}"


# Resources of each rule: threads, memory (MB), runtime (minutes). profiles/slurm maps them to sbatch
# options (--cpus-per-task, --mem, -t) and adds the partition.
def capture_mem_mb(wildcards):
    # Fake-mode traces of very large models hold big op tables; real mode holds the model itself.
    return 8000 if wildcards.model in ("gpt3-175b", "llama2-70b", "llama2-13b", "llama2-7b") else 4000

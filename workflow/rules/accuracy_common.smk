# Settings and file lists of the accuracy study (rules in accuracy.smk, which includes this file).
# Config keys: see the head of accuracy.smk.

_ACC_DEFAULTS = {
    "default_run": True,
    "formats": "grid",
    "baselines": ["fp32", "bf16"],
    "backward_format": "same",
    "seed": 0,
    "threads": 1,
    "short": {"preset": "short", "steps": 300, "eval_every": 50, "runtime": 15},
    "full": {"preset": "full", "steps": 2000, "eval_every": 200, "runtime": 240},
}
# Result directory of each study.
ACCURACY_DIRS = {"short": "results/accuracy", "full": "results/accuracy-full"}
_ACC_STUDY_OF_DIR = {d.split("/", 1)[1]: s for s, d in ACCURACY_DIRS.items()}


def accuracy_setting(key, study=None):
    """A key of `accuracy:` (or of its `short`/`full` block) with the defaults above filled in."""
    acc = config.get("accuracy", {}) or {}
    if study is None:
        return acc.get(key, _ACC_DEFAULTS[key])
    return {**_ACC_DEFAULTS[study], **(acc.get(study, {}) or {})}[key]


def accuracy_formats():
    fmts = accuracy_setting("formats")
    fmts = list(config["formats"]) if fmts == "grid" else list(fmts)
    return [*accuracy_setting("baselines"), *fmts]


def accuracy_records(study="short"):
    """The per-format records of one study (the dashboard's accuracy inputs)."""
    return [f"{ACCURACY_DIRS[study]}/format={f}.json" for f in accuracy_formats()]


def accuracy_table(study="short"):
    return f"{ACCURACY_DIRS[study]}.parquet"


def accuracy_figure(study="short", ext="png"):
    suffix = "" if study == "short" else f"_{study}"
    return f"results/figures/loss_curves{suffix}.{ext}"


def _acc_study(wildcards):
    return _ACC_STUDY_OF_DIR[wildcards.accuracy_dir]


def _acc_train_args(wildcards):
    study = _acc_study(wildcards)
    fmt = wildcards.format
    args = [
        f"--preset {accuracy_setting('preset', study)}",
        f"--steps {accuracy_setting('steps', study)}",
        f"--eval-every {accuracy_setting('eval_every', study)}",
        f"--seed {accuracy_setting('seed')}",
    ]
    bwd = accuracy_setting("backward_format")
    if fmt not in ("fp32", "bf16") and bwd != "same":
        args.append(f"--backward-format {bwd}")
    return " ".join(args)


def accuracy_default_outputs():
    """What the default run (the `all` target) builds of the study, i.e. the short study's table and figure,
    or nothing when `accuracy.default_run` is false."""
    if not accuracy_setting("default_run"):
        return []
    return [accuracy_table("short"), accuracy_figure("short", "png"), accuracy_figure("short", "svg")]

"""The grid's figures (seaborn on matplotlib's Agg backend), each written as PNG and SVG.

Every figure is a function of the tidy grid table (and, for ``pim_keeps_up``, the per-layer table), so
the workflow can redraw one figure without touching the others. Files are written through a temporary
name and renamed, so an interrupted job never leaves a truncated image behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FIGURE_NAMES: tuple[str, ...] = (
    "memory_by_category",
    "capacity_saving_heatmap",
    "throughput_loss_heatmap",
    "pim_keeps_up",
    "largest_model",
)

#: Display order of the MX formats (OCP formats first, then the shared-microexponent MX9/6/4).
FORMAT_ORDER: tuple[str, ...] = (
    "MXFP8_E4M3", "MXFP8_E5M2", "MXFP6_E3M2", "MXFP6_E2M3", "MXFP4_E2M1", "MXINT8", "MX9", "MX6", "MX4",
)
SCHEME_ORDER: tuple[str, ...] = ("stored", "jitq-gpu", "jitq-pim")
JITQ_SCHEMES: tuple[str, ...] = ("jitq-gpu", "jitq-pim")
GIB = float(1 << 30)


class FigureError(ValueError):
    """The table lacks what a figure needs (the message names the missing column or rows)."""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    plt.rcParams["svg.hashsalt"] = "jitq"  # stable SVG ids: same table, same file
    return plt


def _save(fig: Any, png: str | os.PathLike[str], svg: str | os.PathLike[str]) -> None:
    import matplotlib.pyplot as plt

    for path, fmt, meta in ((Path(png), "png", {"Software": None}), (Path(svg), "svg", {"Date": None})):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
        os.replace(tmp, path)
    plt.close(fig)


def _ordered(values: Sequence[Any], order: Sequence[Any]) -> list[Any]:
    present = list(dict.fromkeys(values))
    known = [v for v in order if v in present]
    return known + [v for v in present if v not in known]


def model_order(grid: pd.DataFrame) -> list[str]:
    """Models by parameter count when the table has it, else in order of appearance."""
    if "n_params" in grid.columns:
        sizes = grid.groupby("model")["n_params"].max().sort_values(kind="stable")
        return [str(m) for m in sizes.index]
    return list(dict.fromkeys(grid["model"]))


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise FigureError(f"{what}: the table has no column(s) {missing}")
    if df.empty:
        raise FigureError(f"{what}: no rows to plot")


def _context_label(df: pd.DataFrame, keys: Sequence[str] = ("gpu", "dram", "recipe")) -> str:
    return ", ".join(f"{k}={'/'.join(map(str, dict.fromkeys(df[k])))}" for k in keys if k in df.columns)


def memory_by_category(grid: pd.DataFrame, png: str, svg: str, fmt: str | None = None, **_: Any) -> None:
    """Stacked bars: peak bytes by category for each scheme, one panel per model, one MX format."""
    plt = _plt()
    import seaborn as sns

    cats = [c for c in grid.columns if c.startswith("bytes_")]
    _require(grid, ["model", "scheme", "format"], "memory_by_category")
    if not cats:
        raise FigureError("memory_by_category: the table has no bytes_<category> columns")
    fmt = fmt or _ordered(grid["format"], FORMAT_ORDER)[0]
    df = grid[grid["format"] == fmt]
    if df.empty:
        raise FigureError(f"memory_by_category: no cells with format {fmt!r}")
    # One configuration per panel: the first GPU / DRAM / recipe of the grid (bytes do not depend on GPU
    # timing; the title says which were used).
    for key in ("gpu", "dram", "recipe"):
        if key in df.columns:
            df = df[df[key] == df[key].iloc[0]]
    cats = [c for c in cats if df[c].fillna(0).abs().sum() > 0] or cats
    models = [m for m in model_order(grid) if m in set(df["model"])]
    schemes = _ordered(df["scheme"], SCHEME_ORDER)
    colors = sns.color_palette("tab10", len(cats))
    ncol = min(len(models), 3)
    nrow = -(-len(models) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol + 1.6, 3.0 * nrow), squeeze=False)
    for ax, model in zip(axes.flat, models, strict=False):
        sub = df[df["model"] == model].set_index("scheme").reindex(schemes)
        bottom = [0.0] * len(schemes)
        for color, cat in zip(colors, cats, strict=True):
            vals = (sub[cat].fillna(0) / GIB).tolist()
            ax.bar(schemes, vals, bottom=bottom, color=color, label=cat[len("bytes_") :].replace("_", " "))
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(model)
        ax.set_ylabel("GiB")
        ax.tick_params(axis="x", rotation=20)
    for ax in list(axes.flat)[len(models) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5), title="category")
    fig.suptitle(f"Peak memory by category, {fmt} ({_context_label(df)})")
    fig.tight_layout()
    _save(fig, png, svg)


def _heatmap(grid: pd.DataFrame, metric: str, title: str, png: str, svg: str, cmap: str) -> None:
    plt = _plt()
    import seaborn as sns

    _require(grid, ["model", "format", "scheme", metric], title)
    df = grid[grid["scheme"].isin(JITQ_SCHEMES)]
    if df.empty:
        raise FigureError(f"{title}: the grid has no jitq-gpu or jitq-pim cells")
    ctx_keys = [k for k in ("gpu", "dram", "recipe") if k in df.columns]
    contexts = list(dict.fromkeys(df[ctx_keys].itertuples(index=False, name=None))) if ctx_keys else [()]
    schemes = _ordered(df["scheme"], SCHEME_ORDER)
    models = [m for m in model_order(grid) if m in set(df["model"])]
    formats = _ordered(df["format"], FORMAT_ORDER)
    nrow, ncol = len(contexts), len(schemes)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(0.75 * len(formats) * ncol + 2.0, 0.45 * len(models) * nrow + 1.6), squeeze=False
    )
    vals = df[metric].astype(float)
    vmin, vmax = float(vals.min()), float(vals.max())
    for r, ctx in enumerate(contexts):
        for c, scheme in enumerate(schemes):
            ax = axes[r][c]
            sub = df[df["scheme"] == scheme]
            for k, v in zip(ctx_keys, ctx, strict=True):
                sub = sub[sub[k] == v]
            table = sub.pivot_table(index="model", columns="format", values=metric, aggfunc="mean")
            table = table.reindex(index=models, columns=formats)
            sns.heatmap(
                table, ax=ax, annot=True, fmt=".1f", cmap=cmap, vmin=vmin, vmax=vmax,
                cbar=c == ncol - 1, cbar_kws={"label": "%"}, linewidths=0.5,
            )
            label = ", ".join(map(str, ctx))
            ax.set_title(f"{scheme}" + (f" ({label})" if label else ""))
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.tick_params(axis="x", rotation=45)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, png, svg)


def capacity_saving_heatmap(grid: pd.DataFrame, png: str, svg: str, **_: Any) -> None:
    """Heatmap: capacity saving (%) of each JIT-Q scheme against stored, model x format."""
    _heatmap(grid, "capacity_saving_pct", "Capacity saving against stored (%)", png, svg, "crest")


def throughput_loss_heatmap(grid: pd.DataFrame, png: str, svg: str, **_: Any) -> None:
    """Heatmap: training throughput lost (%) by each JIT-Q scheme against stored, model x format."""
    _heatmap(grid, "throughput_loss_pct", "Throughput loss against stored (%)", png, svg, "rocket_r")


#: Per-layer column pairs (PIM quantization time, GEMM time) the keeps-up plot understands, in seconds
#: or nanoseconds; the first pair present in the per-layer table is used.
LAYER_TIME_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("pim_s", "gemm_s", 1.0),
    ("pim_quant_s", "gemm_s", 1.0),
    ("pim_time_s", "gemm_time_s", 1.0),
    ("pim_ns", "gemm_ns", 1e-9),
    ("pim_time_ns", "gemm_time_ns", 1e-9),
)


def layer_times(layers: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """The per-layer rows with PIM and GEMM times in microseconds (columns ``pim_us``, ``gemm_us``)."""
    for pim, gemm, scale in LAYER_TIME_COLUMNS:
        if pim in layers.columns and gemm in layers.columns:
            df = layers.dropna(subset=[pim, gemm]).copy()
            df["pim_us"] = df[pim].astype(float) * scale * 1e6
            df["gemm_us"] = df[gemm].astype(float) * scale * 1e6
            return df, pim, gemm
    raise FigureError(
        "pim_keeps_up: the per-layer table has none of the column pairs "
        f"{[(p, g) for p, g, _ in LAYER_TIME_COLUMNS]}; columns: {list(layers.columns)}"
    )


def pim_keeps_up(
    grid: pd.DataFrame, png: str, svg: str, layers: pd.DataFrame | None = None, **_: Any
) -> None:
    """Scatter, per layer: PIM quantization time of the next layer's weights vs this layer's GEMM time."""
    plt = _plt()
    import seaborn as sns

    if layers is None:
        raise FigureError("pim_keeps_up needs the per-layer table (--layers)")
    _require(layers, ["model", "format", "scheme"], "pim_keeps_up")
    df = layers[layers["scheme"] == "jitq-pim"]
    if df.empty:
        raise FigureError("pim_keeps_up: no per-layer rows of jitq-pim cells")
    df, _, _ = layer_times(df)
    df = df[(df["pim_us"] > 0) & (df["gemm_us"] > 0)]
    if df.empty:
        raise FigureError("pim_keeps_up: no layer with positive PIM and GEMM times")
    models = [m for m in model_order(grid) if m in set(df["model"])]
    formats = _ordered(df["format"], FORMAT_ORDER)
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    sns.scatterplot(
        data=df, x="gemm_us", y="pim_us", hue="format", hue_order=formats, style="model",
        style_order=models, ax=ax, s=28, alpha=0.8,
    )
    lo = float(min(df["gemm_us"].min(), df["pim_us"].min())) * 0.7
    hi = float(max(df["gemm_us"].max(), df["pim_us"].max())) * 1.4
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, ls="--", label="PIM = GEMM")
    ax.fill_between([lo, hi], [lo, hi], [hi, hi], color="tab:red", alpha=0.06, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("GEMM time of the layer (µs)")
    ax.set_ylabel("PIM quantization time of the next layer's weights (µs)")
    share = float((df["pim_us"] <= df["gemm_us"]).mean()) * 100
    ax.set_title(f"Does PIM keep up? {share:.0f}% of layer windows hidden ({_context_label(df)})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    _save(fig, png, svg)


#: Record columns naming the largest model that fits (name, parameter count); the first present is used.
LARGEST_MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("largest_model_fit", "max_params_fit"),  # what `jitq run` writes
    ("largest_model", "largest_model_params"),
    ("largest_trainable_model", "largest_trainable_params"),
    ("largest_fit_model", "largest_fit_params"),
)


def model_family(model: str) -> str:
    """The zoo family of a model name (``gpt2-124m`` -> ``gpt2``, ``llama2-7b`` -> ``llama2``)."""
    return str(model).split("-", 1)[0]


def largest_model(grid: pd.DataFrame, png: str, svg: str, fmt: str | None = None, **_: Any) -> None:
    """Bars: parameter count of the largest model of each family that fits each GPU, per scheme."""
    plt = _plt()
    import seaborn as sns

    for _name_col, params_col in LARGEST_MODEL_COLUMNS:
        if params_col in grid.columns:
            break
    else:
        raise FigureError(
            f"largest_model: the table has none of {[p for _, p in LARGEST_MODEL_COLUMNS]}"
        )
    _require(grid, ["gpu", "scheme", "format", "model", params_col], "largest_model")
    fmt = fmt or _ordered(grid["format"], FORMAT_ORDER)[0]
    df = grid[grid["format"] == fmt].dropna(subset=[params_col]).copy()
    if df.empty:
        raise FigureError(f"largest_model: no cells of format {fmt!r} with {params_col}")
    df["family"] = df["family"] if "family" in df.columns else df["model"].map(model_family)
    # The answer depends on the family (its shape rule), the GPU and the scheme; cells of several models
    # of one family give the same answer up to the trace's batch shape, so take the largest.
    best = df.groupby(["family", "gpu", "scheme"], as_index=False)[params_col].max()
    best["billions"] = best[params_col].astype(float) / 1e9
    families = list(dict.fromkeys(best["family"]))
    gpus = list(dict.fromkeys(df["gpu"]))
    schemes = _ordered(best["scheme"], SCHEME_ORDER)
    width = 0.9 * len(gpus) * len(schemes) / 2 + 2.4
    fig, axes = plt.subplots(1, len(families), figsize=(width * len(families), 3.8), squeeze=False)
    for ax, fam in zip(axes[0], families, strict=True):
        sub = best[best["family"] == fam]
        sns.barplot(data=sub, x="gpu", y="billions", hue="scheme", hue_order=schemes, order=gpus, ax=ax,
                    errorbar=None, legend=ax is axes[0][-1])
        for cont in ax.containers:
            ax.bar_label(cont, fmt="%.2f", fontsize=7)
        ax.set_title(f"{fam} family")
        ax.set_ylabel("largest trainable model (billion parameters)")
        ax.set_xlabel("")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"Largest model that fits the GPU, {fmt} ({_context_label(df, ('dram', 'recipe'))})")
    fig.tight_layout()
    _save(fig, png, svg)


DRAWERS: dict[str, Callable[..., None]] = {
    "memory_by_category": memory_by_category,
    "capacity_saving_heatmap": capacity_saving_heatmap,
    "throughput_loss_heatmap": throughput_loss_heatmap,
    "pim_keeps_up": pim_keeps_up,
    "largest_model": largest_model,
}


def draw(
    name: str,
    grid: pd.DataFrame,
    png: str | os.PathLike[str],
    svg: str | os.PathLike[str],
    layers: pd.DataFrame | None = None,
    fmt: str | None = None,
) -> None:
    if name not in DRAWERS:
        raise FigureError(f"unknown figure {name!r}; known: {', '.join(FIGURE_NAMES)}")
    DRAWERS[name](grid, str(png), str(svg), layers=layers, fmt=fmt)

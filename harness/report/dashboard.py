"""One self-contained HTML page of the grid: headline table, figures, the whole grid table.

Self-contained means the page opens from a file, offline, forever: figures are embedded as base64 PNG,
the CSS and the few lines of JavaScript (sortable columns, a text filter per table) are inline, and the
page references no URL at all.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

GIB = float(1 << 30)

# Column names of the headline table (also what tests look for).
HEADLINE_COLUMNS = {
    "peak_stored": "peak stored (GiB)",
    "peak_jitq": "peak {scheme} (GiB)",
    "saving": "capacity saving {scheme} (%)",
    "loss_gpu": "throughput loss jitq-gpu (%)",
    "loss_pim": "throughput loss jitq-pim (%)",
    "keeps_up": "PIM keeps up",
    "val_loss": "final val loss",
    "val_gap": "gap to FP32",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1400px;
color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.text,th.text{text-align:left}tr:nth-child(even){background:#fafafa}
.scroll{max-height:70vh;overflow:auto;border:1px solid #eee}
.filter{margin:.3rem 0;padding:.25rem;width:22rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
.bad{color:#b00020}.good{color:#1b5e20}.note{color:#555;font-size:.85rem}
"""

_JS = """
function cellValue(td){const v=td.dataset.v!==undefined?td.dataset.v:td.textContent;
 const n=parseFloat(v);return isNaN(n)?v.toLowerCase():n;}
function sortTable(th){const table=th.closest('table');const idx=[...th.parentNode.children].indexOf(th);
 const asc=!th.classList.contains('sorted-asc');
 table.querySelectorAll('th').forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
 th.classList.add(asc?'sorted-asc':'sorted-desc');const body=table.tBodies[0];
 const rows=[...body.rows].sort((a,b)=>{const x=cellValue(a.cells[idx]),y=cellValue(b.cells[idx]);
  if(typeof x===typeof y)return (x<y?-1:x>y?1:0)*(asc?1:-1);return (typeof x==='number'?-1:1)*(asc?1:-1);});
 rows.forEach(r=>body.appendChild(r));}
function filterTable(input){const table=document.getElementById(input.dataset.table);
 const terms=input.value.toLowerCase().split(/\\s+/).filter(t=>t);
 for(const r of table.tBodies[0].rows){const t=r.textContent.toLowerCase();
  r.style.display=terms.every(s=>t.includes(s))?'':'none';}}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
document.querySelectorAll('input.filter').forEach(i=>i.addEventListener('input',()=>filterTable(i)));
// A view can be linked: #filter=<table-id>:<terms>&sort=<table-id>:<column>:<asc|desc>
function applyHash(){const p=new URLSearchParams(location.hash.slice(1));const f=p.get('filter');
 if(f){const k=f.indexOf(':');const i=document.querySelector('input.filter[data-table="'+f.slice(0,k)+'"]');
  if(i){i.value=f.slice(k+1);filterTable(i);}}
 const s=p.get('sort');if(s){const [id,col,dir]=s.split(':');const t=document.getElementById(id);
  const th=t&&t.tHead.rows[0].cells[+col];if(th){sortTable(th);if(dir==='desc')sortTable(th);}}}
// Render check (read by tests and handy in devtools): how many figures decoded, rows shown per table.
function markRendered(){const imgs=[...document.images];const b=document.body.dataset;
 b.imagesTotal=imgs.length;b.imagesRendered=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
 document.querySelectorAll('table').forEach(t=>{t.dataset.rowsShown=
  [...t.tBodies[0].rows].filter(r=>r.style.display!=='none').length;});}
window.addEventListener('load',()=>{applyHash();markRendered();});
window.addEventListener('hashchange',()=>{applyHash();markRendered();});
"""


def _fmt(v: Any) -> tuple[str, str | None, bool]:
    """(display text, sort value, is_text) of one cell."""
    if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and not isinstance(v, str):
        return f"[{len(v)} values]", str(len(v)), False  # a curve (e.g. loss per step): its length only
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "", "", True
    if isinstance(v, bool):
        return ("yes" if v else "no"), str(int(v)), True
    if isinstance(v, int):
        return f"{v:,}", str(v), False
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
            return f"{v:.3g}", repr(v), False
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.1f}", repr(v), False
    return str(v), None, True


def html_table(df: pd.DataFrame, table_id: str, filter_box: bool = True) -> str:
    """An HTML table with sortable headers (click) and, optionally, a text filter above it."""
    out = []
    if filter_box:
        out.append(
            f'<input class="filter" type="search" data-table="{table_id}" '
            f'placeholder="filter rows (space-separated terms)" aria-label="filter {table_id}">'
        )
    out.append(f'<div class="scroll"><table id="{table_id}"><thead><tr>')
    text_cols = {c for c in df.columns if df[c].dtype == object or df[c].dtype == bool}
    for c in df.columns:
        cls = ' class="text"' if c in text_cols else ""
        out.append(f"<th{cls}>{html.escape(str(c))}</th>")
    out.append("</tr></thead><tbody>")
    for row in df.itertuples(index=False, name=None):
        out.append("<tr>")
        for v in row:
            text, sort, is_text = _fmt(v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v)
            attrs = ' class="text"' if is_text else ""
            if sort is not None:
                attrs += f' data-v="{html.escape(sort)}"'
            out.append(f"<td{attrs}>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _accuracy_by_format(accuracy: pd.DataFrame | None) -> pd.DataFrame | None:
    """final_val_loss and its gap to the FP32 run, indexed by format (None if there is no study)."""
    if accuracy is None or accuracy.empty or "final_val_loss" not in accuracy.columns:
        return None
    acc = accuracy.copy()
    if "backward_format" in acc.columns:
        # The headline pairs each forward format with its own backward format where the study has both.
        same = acc[(acc["backward_format"].isna()) | (acc["backward_format"] == acc["format"])]
        acc = same if not same.empty else acc
    acc = acc.groupby("format", as_index=True)["final_val_loss"].last().to_frame()
    fp32 = acc["final_val_loss"].get("fp32")
    acc["gap_to_fp32"] = acc["final_val_loss"] - fp32 if fp32 is not None else float("nan")
    return acc


def accuracy_display(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The accuracy table as shown: scalar columns only (curves are in the loss-curve figure)."""
    keep = [c for c in accuracy.columns if c != "path"
            and not accuracy[c].map(lambda v: hasattr(v, "__len__") and not isinstance(v, str)).any()]
    return accuracy[keep]


def headline_table(
    grid: pd.DataFrame, scheme: str = "jitq-pim", accuracy: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per model x format (x GPU, DRAM, recipe when the grid varies them): the trade at a glance."""
    from harness.report.figures import FORMAT_ORDER, model_order

    ctx = [k for k in ("gpu", "dram", "recipe") if k in grid.columns and grid[k].nunique() > 1]
    keys = ["model", "format", *ctx]
    base = grid.drop_duplicates(keys)[keys].copy()
    models = model_order(grid)
    base["_m"] = base["model"].map({m: i for i, m in enumerate(models)})
    base["_f"] = base["format"].map({f: i for i, f in enumerate(FORMAT_ORDER)}).fillna(len(FORMAT_ORDER))
    base = base.sort_values(["_m", "_f", *ctx]).drop(columns=["_m", "_f"])

    def col(s: str, c: str) -> pd.Series:
        sub = grid[grid["scheme"] == s]
        if sub.empty or c not in sub.columns:
            return pd.Series(float("nan"), index=base.index)
        return base.merge(sub[[*keys, c]], on=keys, how="left")[c].set_axis(base.index)

    h = HEADLINE_COLUMNS
    out = base.copy()
    out[h["peak_stored"]] = col("stored", "peak_bytes") / GIB
    out[h["peak_jitq"].format(scheme=scheme)] = col(scheme, "peak_bytes") / GIB
    out[h["saving"].format(scheme=scheme)] = col(scheme, "capacity_saving_pct")
    out[h["loss_gpu"]] = col("jitq-gpu", "throughput_loss_pct")
    out[h["loss_pim"]] = col("jitq-pim", "throughput_loss_pct")
    keeps = col("jitq-pim", "pim_keeps_up")
    out[h["keeps_up"]] = keeps.map(lambda v: None if pd.isna(v) else bool(v)).astype(object)
    acc = _accuracy_by_format(accuracy)
    if acc is not None:
        out[h["val_loss"]] = out["format"].map(acc["final_val_loss"])
        out[h["val_gap"]] = out["format"].map(acc["gap_to_fp32"])
    # Drop columns the grid could not fill (e.g. no jitq-gpu cells in this grid).
    keep = [c for c in out.columns if c in keys or out[c].notna().any()]
    return out[keep].reset_index(drop=True)


def _img(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    mime = "image/svg+xml" if p.suffix == ".svg" else "image/png"
    title = p.stem.replace("_", " ")
    return (
        f'<figure id="fig-{html.escape(p.stem)}"><img alt="{html.escape(title)}" '
        f'src="data:{mime};base64,{data}"><figcaption>{html.escape(title)}</figcaption></figure>'
    )


def _provenance(grid: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in grid.columns
            if c.startswith(("version", "versions_")) or c.endswith(("_version", "_sha256")) or "hash" in c]
    rows = [{"key": c, "values": ", ".join(map(str, dict.fromkeys(grid[c].dropna())))} for c in sorted(cols)]
    return pd.DataFrame(rows, columns=["key", "values"])


def render_dashboard(
    grid: pd.DataFrame,
    figures: Sequence[str | os.PathLike[str]],
    headline_scheme: str = "jitq-pim",
    accuracy: pd.DataFrame | None = None,
    extra_figures: Sequence[str | os.PathLike[str]] = (),
    title: str = "JIT-Q grid",
) -> str:
    head = headline_table(grid, headline_scheme, accuracy)
    dims = {k: list(dict.fromkeys(grid[k])) for k in ("model", "format", "scheme", "gpu", "dram", "recipe")
            if k in grid.columns}
    summary = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in dims.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">{len(grid)} cells. {html.escape(summary)}.</p>',
        '<p class="note">Capacity saving and throughput loss are measured against the <code>stored</code> '
        "scheme of the same cell (model, format, GPU, DRAM, recipe). Click a column header to sort; "
        "type in a filter box to keep matching rows.</p>",
        '<h2 id="headline">Headline</h2>',
        html_table(head, "headline-table"),
    ]
    if accuracy is not None and not accuracy.empty:
        parts.append(
            '<p class="note">Final validation loss: the accuracy study (a small byte-level GPT trained on '
            "a small corpus; an indication, not the paper's benchmark suite). Gap to FP32 is that loss "
            "minus the FP32 run's.</p>"
        )
    parts.append('<h2 id="figures">Figures</h2>')
    parts.extend(_img(f) for f in [*figures, *extra_figures])
    if accuracy is not None and not accuracy.empty:
        parts += ['<h2 id="accuracy">Accuracy study</h2>', html_table(accuracy_display(accuracy), "accuracy-table")]
    parts += ['<h2 id="grid">Whole grid</h2>', html_table(grid, "grid-table")]
    prov = _provenance(grid)
    if not prov.empty:
        parts += ['<h2 id="provenance">Provenance</h2>', html_table(prov, "provenance-table", filter_box=False)]
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def write_dashboard(
    grid: pd.DataFrame,
    figures: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    headline_scheme: str = "jitq-pim",
    accuracy: pd.DataFrame | None = None,
    extra_figures: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Render and write atomically (temporary file, then rename)."""
    text = render_dashboard(grid, figures, headline_scheme, accuracy, extra_figures)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

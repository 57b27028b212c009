"""The dashboard renders in a real browser: headless Chromium loads results/dashboard.html from a file,
decodes every embedded figure, shows the tables, and its inline script filters and sorts rows.

The page marks what rendered on <body> and each <table> (data-images-rendered, data-rows-shown) once it
has loaded; ``chromium --dump-dom`` returns the DOM after scripts ran. Chromium is Debian's ``chromium``
package; the test installs it with apt-get when it is absent and that is possible, and skips otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.report import figures
from harness.report.aggregate import build_tables
from harness.report.dashboard import HEADLINE_COLUMNS, write_dashboard
from harness.report.synthetic import synthetic_records

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _find_browser() -> str | None:
    return next((b for b in (shutil.which(n) for n in BROWSERS) if b), None)


@pytest.fixture(scope="module")
def browser() -> str:
    found = _find_browser()
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
            try:
                subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)
            except (OSError, subprocess.TimeoutExpired):
                break
        found = _find_browser()
        if found:
            return found
    pytest.skip("no Chromium: not installed and `apt-get install chromium` not possible here (needs root and "
                "Debian's package index); install it to run the browser test")


def dump_dom(browser: str, page: Path, fragment: str = "") -> str:
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--virtual-time-budget=5000", "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def _attr(dom: str, tag_re: str, attr: str) -> str:
    m = re.search(tag_re, dom)
    assert m, tag_re
    v = re.search(rf'{attr}="([^"]*)"', m.group(0))
    assert v, (attr, m.group(0))
    return v.group(1)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dash")
    grid, layers = build_tables(synthetic_records())
    pngs = []
    for name in ("memory_by_category", "throughput_loss_heatmap", "pim_keeps_up"):
        png = out / f"{name}.png"
        figures.draw(name, grid, png, out / f"{name}.svg", layers=layers)
        pngs.append(png)
    page = out / "dashboard.html"
    write_dashboard(grid, pngs, page)
    return page


def test_dashboard_is_self_contained(dashboard: Path) -> None:
    text = dashboard.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"'](https?:)?//", text)
    assert "http://" not in text and "https://" not in text


def test_dashboard_renders_tables_and_images(browser: str, dashboard: Path) -> None:
    dom = dump_dom(browser, dashboard)
    assert _attr(dom, r"<body[^>]*>", "data-images-total") == "3"
    assert _attr(dom, r"<body[^>]*>", "data-images-rendered") == "3"
    # 2 models x 2 formats headline rows; 12 grid cells.
    assert _attr(dom, r'<table id="headline-table"[^>]*>', "data-rows-shown") == "4"
    assert _attr(dom, r'<table id="grid-table"[^>]*>', "data-rows-shown") == "12"
    assert HEADLINE_COLUMNS["loss_pim"] in dom


def test_dashboard_filter_and_sort_run(browser: str, dashboard: Path) -> None:
    dom = dump_dom(browser, dashboard, "filter=grid-table:gpt2-tiny%20MX6&sort=grid-table:2:desc")
    assert _attr(dom, r'<table id="grid-table"[^>]*>', "data-rows-shown") == "3"
    body = dom[dom.index('<table id="grid-table"'):]
    body = body[: body.index("</table>")]
    rows = re.findall(r"<tr((?: [^>]*)?)>(.*?)</tr>", body, re.S)
    visible = [cells for attrs, cells in rows if "<td" in cells and "display: none" not in attrs]
    assert len(visible) == 3
    schemes = [re.findall(r"<td[^>]*>(.*?)</td>", r)[2] for r in visible]
    assert schemes == ["stored", "jitq-pim", "jitq-gpu"]

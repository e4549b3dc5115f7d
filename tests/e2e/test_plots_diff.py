"""`dvc plots diff` overlays two experiments in one chart, and a browser draws it.

On the `pipeline` repository (conftest.py): the committed run, latent_dim 16,
and the experiment z6. `dvc plots diff <branch> z6` must give every
comparison figure the rows of both revisions (the classifier's point on the
MSE-against-latent-size figure moves from 16 to 6), and its HTML page, drawn
by Vega in headless Chromium, one chart per figure naming both revisions.

DVC's page loads Vega from a CDN; the test renders it offline through
--html-template, a page that inlines Vega, Vega-Lite and Vega-Embed as
vl-convert-python bundles them. The MSE chart is saved as a screenshot (in
the folder LATENT_ATLAS_SCREENSHOTS names: how reports/plots-diff.png is made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml
from tests_support import Repo, chromium, require

pytestmark = pytest.mark.e2e

SCREENSHOT = "plots-diff.png"
MSE_FIGURE = "plots/data/mse_vs_latent.json"
VIEWPORT = {"width": 1200, "height": 900}
PAGE_TIMEOUT_S = 90

_OFFLINE_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>dvc plots (offline)</title>
<script>
BUNDLE
</script>
<script>
// DVC's page calls vegaEmbed('#<id>', spec) once per chart. Draw SVG, whose text
// the test reads, and keep each chart's promise, so the test knows when all are drawn.
window.drawnCharts = [];
const vegaEmbedBundled = window.vegaEmbed;
window.vegaEmbed = (element, spec, options) => {
  const drawing = vegaEmbedBundled(element, spec, Object.assign({}, options, {renderer: "svg"}));
  window.drawnCharts.push(drawing.then(() => ({id: element, error: null}),
                                       (error) => ({id: element, error: String(error)})));
  return drawing;
};
</script>
<style>body > div { display: inline-block; vertical-align: top; margin: 8px; }</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def offline_page_template(path: Path) -> Path:
    """A `dvc plots --html-template` that needs no network (no {scripts}: DVC's CDN tags)."""
    try:
        import vl_convert
    except ImportError:
        require("needs vl-convert-python (pip install -e '.[dev]'), which bundles Vega for offline pages")
    bundle = vl_convert.javascript_bundle()
    assert "</script" not in bundle.lower()
    path.write_text(_OFFLINE_PAGE.replace("BUNDLE", bundle))
    return path


def figures(repo: Repo) -> list[str]:
    """The figures dvc.yaml draws from data: top-level plots, and stage plots with a template."""
    dvc_yaml = yaml.safe_load((repo.root / "dvc.yaml").read_text())
    found = [next(iter(entry)) for entry in dvc_yaml.get("plots", [])]
    for stage in dvc_yaml["stages"].values():
        for entry in stage.get("do", stage).get("plots", []):
            if isinstance(entry, dict) and "template" in next(iter(entry.values())):
                found.append(next(iter(entry)))
    return found


def branch_and_z6(repo: Repo) -> tuple[str, str]:
    return repo.run("git", "branch", "--show-current").stdout.strip(), "z6"


def test_plots_diff_gives_every_figure_both_experiments(pipeline):
    repo, _ = pipeline
    revisions = branch_and_z6(repo)
    start = time.monotonic()
    diff = json.loads(repo.dvc("plots", "diff", *revisions, "--json").stdout)
    print(f"dvc plots diff {' '.join(revisions)} --json: {time.monotonic() - start:.1f} s")
    assert not diff.get("errors"), diff["errors"]
    shown = {name: entry for name, entries in diff["data"].items() for entry in entries if entry["type"] == "vega"}
    for figure in figures(repo):
        assert figure in shown, f"dvc plots diff draws no {figure}"
        rows = shown[figure]["content"]["data"]["values"]
        assert sorted({row["rev"] for row in rows}) == sorted(revisions), figure
    mse = shown[MSE_FIGURE]["content"]["data"]["values"]
    classifier = {row["rev"]: row["latent_dim"] for row in mse if row["variant"] == "classifier"}
    assert classifier == {revisions[0]: 16, revisions[1]: 6}


# Each chart of the page: whether Vega drew it, and all its SVG text (titles, legends, facet headers).
_CHARTS = """
return [...document.querySelectorAll('body > div[id]')].map(div => ({
  id: div.id,
  marks: div.querySelectorAll('svg .role-mark path, svg .role-mark rect, svg .role-mark text').length,
  text: [...div.querySelectorAll('svg text')].map(t => t.textContent),
}));
"""


def test_the_overlay_draws_in_a_browser(pipeline, tmp_path):
    from selenium.webdriver.common.by import By

    repo, _ = pipeline
    revisions = branch_and_z6(repo)
    template = offline_page_template(tmp_path / "offline.html")
    shown = figures(repo)
    out = tmp_path / "plots"
    start = time.monotonic()
    repo.dvc("plots", "diff", *revisions, "--targets", *shown, "--html-template", str(template), "-o", str(out))
    print(f"dvc plots diff {' '.join(revisions)} (HTML, {len(shown)} figures): {time.monotonic() - start:.1f} s")
    with chromium(tmp_path, VIEWPORT, PAGE_TIMEOUT_S) as driver:
        driver.get((out / "index.html").as_uri())
        drawn = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                            "Promise.all(window.drawnCharts).then(done);")
        assert [d for d in drawn if d["error"]] == []
        charts = {chart["id"]: chart for chart in driver.execute_script(_CHARTS)}
        assert len(charts) == len(shown) == len(drawn)
        for chart in charts.values():
            assert chart["marks"] > 0, f"{chart['id']} drew nothing"
            for rev in revisions:
                assert any(text == rev or text.startswith(f"{rev} ") for text in chart["text"]), (chart["id"], rev)
        mse_id = re.sub(r"[^A-Za-z0-9]", "_", MSE_FIGURE)
        shot = tmp_path / SCREENSHOT
        driver.find_element(By.ID, mse_id).screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("LATENT_ATLAS_SCREENSHOTS"):
        folder = Path(os.environ["LATENT_ATLAS_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, folder / SCREENSHOT)

"""MLflow's UI in a real browser (headless Chromium), used as a researcher would
to answer "latent_dim 16 or 6?" (issue 8, item 3).

On the `pipeline` repository (conftest.py: the committed `dvc repro` with
latent_dim 16, logged as dvc_experiment "workspace", and `dvc exp run -n z6 -S
latent_dim=6`), against a real `mlflow server` on the repository's mlflow.db:
1. open the experiment from the home page: it shows the training runs;
2. tick the two parent runs in the runs table and press Compare;
3. the Compare view's latent_dim and classifier.accuracy rows show the values
   `python -m latent_atlas.experiments --csv` prints for those experiments;
4. a parent's Artifacts list the report and the summary plots, and clicking the
   report shows its text.
The Compare view is saved as a screenshot (tmp_path, and the folder named by
LATENT_ATLAS_SCREENSHOTS if set: that is how reports/mlflow-compare.png is made).

A missing browser fails the test when CI=true (.ci/run installs it) and skips
it, with the reason, elsewhere.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests_support import MlflowServer, Repo, chromium

from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e

# The screenshot's size: the Compare view's run names, params and first metrics fit in it.
VIEWPORT = {"width": 1400, "height": 900}
UI_TIMEOUT_S = 90  # generous: a page renders in seconds, but the CPUs are shared
SCREENSHOT = "mlflow-compare.png"
# MLflow parent run name -> what the run compared: "<dvc_experiment>-<6 hex>".
RUN_NAME = re.compile(r"^(?P<experiment>.+)-[0-9a-f]{6}$")


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path, VIEWPORT, UI_TIMEOUT_S) as driver:
        yield driver


# --------------------------------------------------------------------------- #
# what the user reads elsewhere: the experiment table and the parent runs
# --------------------------------------------------------------------------- #


def experiment_table(repo: Repo) -> dict[tuple[str, str], dict[str, str]]:
    """(experiment, variant) -> the row `python -m latent_atlas.experiments --csv` prints."""
    out = repo.run(sys.executable, "-m", "latent_atlas.experiments", "--csv").stdout
    return {(row["experiment"], row["variant"]): row for row in csv.DictReader(io.StringIO(out))}


def mlflow_client(repo: Repo):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{repo.root / 'mlflow.db'}")


def parent_runs(client, dvc_experiments: tuple[str, ...]) -> tuple[str, list]:
    """The experiment's id and the parent run of each DVC experiment, in that order."""
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    assert experiment is not None, f"no {store.EXPERIMENT_NAME} experiment in {client.tracking_uri}"
    parents = []
    for name in dvc_experiments:
        found = client.search_runs([experiment.experiment_id],
                                   filter_string=f"tags.role = 'pipeline' and tags.dvc_experiment = '{name}'")
        assert len(found) == 1, f"{len(found)} parent runs for DVC experiment {name!r}"
        parents.append(found[0])
    return experiment.experiment_id, parents


# --------------------------------------------------------------------------- #
# the page, as a user sees it
# --------------------------------------------------------------------------- #


def page_text(driver) -> str:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException:  # React replaced the body while it was read
        return ""


def wait_until(driver, condition: Callable, what: str, shots: Path):
    """condition(driver)'s first truthy value; on time-out, a screenshot and the page's text."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, UI_TIMEOUT_S, poll_frequency=0.5,
                             ignored_exceptions=[StaleElementReferenceException]).until(condition)
    except TimeoutException:
        shot = shots / f"failed-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:60]}.png"
        driver.save_screenshot(str(shot))
        raise AssertionError(f"the MLflow UI did not show {what} within {UI_TIMEOUT_S} s "
                             f"(screenshot {shot}); the page at {driver.current_url} read:\n"
                             f"{page_text(driver)[-3000:]}") from None


def find(xpath: str) -> Callable:
    """A wait condition: the first element at xpath that is shown, else False."""
    from selenium.webdriver.common.by import By

    def shown(driver):
        return next((e for e in driver.find_elements(By.XPATH, xpath) if e.is_displayed()), False)

    return shown


def page_with(text: str) -> Callable:
    """A wait condition: the page's text once it holds text, else False."""

    def holds(driver):
        body = page_text(driver)
        return body if text in body else False

    return holds


def literal(text: str) -> str:
    """text as an XPath string literal (names here hold no quotes)."""
    assert '"' not in text, text
    return f'"{text}"'


def click(driver, xpath: str, what: str, shots: Path) -> None:
    wait_until(driver, find(xpath), what, shots).click()


def close_assistant(driver) -> None:
    """The MLflow Assistant panel opens by itself on a first visit; a user closes it."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "button[data-component-id='mlflow.assistant.chat_panel.close']"):
        if button.is_displayed():
            button.click()


def table_row(driver, name: str) -> list[str]:
    """The cells after a row's name in a Compare view table (params, run details)."""
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.XPATH, f"//tr[./*[1][normalize-space()={literal(name)}]]")
    return [cell.get_attribute("textContent").strip() for cell in row.find_elements(By.XPATH, "./*[position() > 1]")]


# One metric row of the Compare view, read in one step (React re-renders between
# WebDriver calls): the names grid, the values grid and the metric's name in;
# its values (left to right) and the row's `top` out, or null if not rendered.
_READ_METRIC_ROW = """
const [names, values, name] = arguments;
const cell = [...names.querySelectorAll(':scope > div > div')].find(c => c.textContent.trim() === name);
if (!cell) return null;
const row = [...values.querySelectorAll(':scope > div > div')].filter(c => c.style.top === cell.style.top);
row.sort((a, b) => parseFloat(a.style.left) - parseFloat(b.style.left));
return [row.map(c => c.textContent.trim()), parseFloat(cell.style.top)];
"""
# Scrolls both grids to arguments[2]; true once the names grid drew rows there.
_SCROLL_METRICS = """
const [names, values, y] = arguments;
if (Math.abs(names.scrollTop - Math.min(y, names.scrollHeight - names.clientHeight)) >= 1) {
  names.scrollTop = y; values.scrollTop = y; return false;
}
const tops = [...names.querySelectorAll(':scope > div > div')].map(c => parseFloat(c.style.top));
return tops.length > 0 && Math.min(...tops) <= names.scrollTop && names.scrollTop <= Math.max(...tops);
"""


def metric_row(driver, name: str, shots: Path) -> list[str]:
    """The values of one metric in the Compare view, its row scrolled to the top of the table.

    The metrics table is virtual (react-virtualized): a grid of names beside a
    grid of values, rows placed by their `top`, only rows near the view in the
    page. It is scrolled, as a user would, until the name is there.
    """
    from selenium.webdriver.common.by import By

    names = wait_until(driver, find("//div[@role='grid'][.//a[@title='Plot chart']]"), "the metrics table", shots)
    values = names.find_element(By.XPATH, "following::div[@role='grid'][1]")

    def scroll_to(y: float) -> None:
        wait_until(driver, lambda d: d.execute_script(_SCROLL_METRICS, names, values, y),
                   "the metrics table scrolled", shots)

    scroll_to(0)
    while (found := driver.execute_script(_READ_METRIC_ROW, names, values, name)) is None:
        at, end = driver.execute_script("return [arguments[0].scrollTop, "
                                        "arguments[0].scrollHeight - arguments[0].clientHeight];", names)
        if at >= end:
            raise AssertionError(f"no metric {name!r} in the Compare view")
        scroll_to(min(at + names.size["height"], end))
    # The values grid draws fewer rows ahead than the names grid: bring the row into view first.
    scroll_to(found[1])

    def filled(driver):
        shown, _ = driver.execute_script(_READ_METRIC_ROW, names, values, name)
        return shown if shown and all(shown) else False

    return wait_until(driver, filled, f"the values of {name}", shots)


def artifact_node(name: str) -> str:
    return f"//*[@data-testid='artifact-tree-node'][@artifact-name={literal(name)}]"


# --------------------------------------------------------------------------- #
# the test
# --------------------------------------------------------------------------- #


def test_mlflow_ui_compares_16_and_6(pipeline, browser, tmp_path):
    from selenium.webdriver.common.by import By

    repo, _ = pipeline
    driver, shots = browser, tmp_path
    # The committed `dvc repro` is the branch's row in the table and "workspace" in MLflow.
    branch = repo.run("git", "branch", "--show-current").stdout.strip()
    table = experiment_table(repo)
    client = mlflow_client(repo)
    experiment_id, parents = parent_runs(client, ("workspace", "z6"))
    expected = [table[(branch, "classifier")], table[("z6", "classifier")]]
    assert [row["latent_dim"] for row in expected] == ["16", "6"]

    with MlflowServer(tmp_path / "server", backend_uri=f"sqlite:///{repo.root / 'mlflow.db'}",
                      serve_artifacts=False) as server:
        # 1. Home page -> Model training -> the experiment: its training runs.
        # MLflow 3.17 opens experiments in its global "GenAI | Model training"
        # mode (GenAI for a new browser), not by the experiment's
        # mlflow.experimentKind tag: a user picks "Model training" once, and
        # the browser remembers it.
        driver.get(f"{server.url}/")
        click(driver, "//*[normalize-space(text())='Model training']", "the Model training switch", shots)
        click(driver, f"//a[normalize-space()={literal(store.EXPERIMENT_NAME)}]", "the experiment's link", shots)
        for parent in parents:
            wait_until(driver, find(f"//a[normalize-space()={literal(parent.info.run_name)}]"),
                       f"the training run {parent.info.run_name}", shots)
        assert f"#/experiments/{experiment_id}/runs" in driver.current_url  # not .../overview (GenAI)
        close_assistant(driver)

        # 2. Tick both parent rows, then Compare.
        for parent in parents:
            row = driver.find_element(By.XPATH, f"//div[@role='row'][.//a[normalize-space()={literal(parent.info.run_name)}]]")
            assert row.get_attribute("row-id") == parent.info.run_id
            row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
        click(driver, "//button[normalize-space()='Compare']", "the Compare button", shots)
        comparing = "starts-with(normalize-space(), 'Comparing 2 Runs')"
        heading = wait_until(driver, find(f"//*[{comparing}][not(*[{comparing}])]"), "the Compare view", shots)

        # 3. The run names tell the columns apart; latent_dim and the accuracy match the table.
        assert table_row(driver, "Run Name:") == [p.info.run_name for p in parents]
        assert [RUN_NAME.match(p.info.run_name)["experiment"] for p in parents] == ["workspace", "z6"]
        click(driver, "(//label[normalize-space()='Show diff only'])[1]", "the params' 'Show diff only'", shots)
        assert table_row(driver, "latent_dim") == [row["latent_dim"] for row in expected]
        shown = metric_row(driver, "classifier.accuracy", shots)
        # The UI rounds to 3 decimals, the table to 4: both are within their rounding of one number.
        assert [float(v) for v in shown] == pytest.approx([float(row["acc"]) for row in expected], abs=5.5e-4)
        driver.find_element(By.XPATH, "//*[normalize-space(text())='Visualizations']").click()  # fold the plots away
        driver.execute_script("arguments[0].scrollIntoView();", heading)
        shot = tmp_path / SCREENSHOT
        driver.save_screenshot(str(shot))
        if os.environ.get("LATENT_ATLAS_SCREENSHOTS"):
            folder = Path(os.environ["LATENT_ATLAS_SCREENSHOTS"])
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, folder / SCREENSHOT)

        # 4. The 16 run's artifacts: the report and the summary plots; the report's text.
        click(driver, f"//a[normalize-space()={literal(parents[0].info.run_id)}]", "the run's link", shots)
        click(driver, "//*[@role='tab'][normalize-space()='Artifacts']", "the Artifacts tab", shots)
        for folder in ("plots", "summary"):
            click(driver, artifact_node(folder), f"the artifact folder {folder}", shots)
        plots = sorted(p.name for p in (repo.root / "plots" / "summary").glob("*.png"))
        assert plots, "the pipeline drew no summary plots"
        for name in plots:
            wait_until(driver, find(artifact_node(name)), f"the summary plot {name}", shots)
        click(driver, artifact_node("report"), "the artifact folder report", shots)
        click(driver, artifact_node("summary.md"), "the report", shots)
        report = Path(client.download_artifacts(parents[0].info.run_id, "report/summary.md", str(tmp_path)))
        title = report.read_text().splitlines()[0].removeprefix("# ")
        text = wait_until(driver, page_with(title), f"the report's title {title!r}", shots)
        assert "report/summary.md" in text and "classifier" in text
    assert shot.stat().st_size > 10_000

"""DVC's experiments as one readable table (`latent-atlas experiments`).

`dvc exp show` lists every param and every metric of every stage (over a
thousand columns here). This reads the same data (`dvc exp show --json`) and
prints one row per experiment and variant: the experiment, latent_dim, the
params that differ between the experiments shown, the variant and its
headline numbers (metrics/headline.json). Everything else stays one command
away: `dvc exp diff`, `dvc metrics diff`, `dvc exp show --only-changed`.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from latent_atlas.config import flatten
from latent_atlas.errors import UserError
from latent_atlas.paths import HEADLINE_METRICS
from latent_atlas.report.headline import HEADLINE_KEYS

MAX_COLUMNS = 40
# experiment, latent_dim, variant and the headline numbers.
_FIXED_COLUMNS = 3 + len(HEADLINE_KEYS)


FINISHED = (None, "success")  # executor states of an experiment whose metrics are final


def revisions(show: Sequence[Mapping[str, Any]], workspace: bool = True):
    """(name, revision record, executor state) of every row of `dvc exp show --json`:
    each baseline commit (and the workspace, unless workspace=False), then its experiments."""
    for row in show:
        if row["rev"] == "workspace":
            if workspace:
                yield "workspace", row, None
            continue
        yield row.get("name") or row["rev"][:7], row, None
        for experiment in row.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state")
            for rev in experiment["revs"]:
                yield rev.get("name") or experiment.get("name") or rev["rev"][:7], rev, state


def params_of(revision: Mapping[str, Any]) -> dict[str, Any] | None:
    return (((revision.get("data") or {}).get("params") or {}).get("params.yaml") or {}).get("data")


def metrics_file(revision: Mapping[str, Any], path: Path) -> dict[str, Any] | None:
    return (((revision.get("data") or {}).get("metrics") or {}).get(path.as_posix()) or {}).get("data")


def experiments(show: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, flat params, headline) of every finished row of `dvc exp show --json`.

    The workspace is dropped when it holds exactly the results of another row.
    """
    found = []
    for name, revision, state in revisions(show):
        headline, params = metrics_file(revision, HEADLINE_METRICS), params_of(revision)
        if state in FINISHED and headline and params is not None:
            found.append((name, flatten(params), headline))
    workspace = [f for f in found if f[0] == "workspace"]
    if workspace and any(f[1:] == workspace[0][1:] for f in found if f[0] != "workspace"):
        found.remove(workspace[0])  # the results of a commit or experiment shown anyway
    return found


def _value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def differing_keys(flat_params: Iterable[dict[str, Any]]) -> list[str]:
    """Dotted keys whose value is not the same in every flat params mapping."""
    flat_params = list(flat_params)
    keys = sorted({key for params in flat_params for key in params})
    return [key for key in keys if len({json.dumps(p.get(key), sort_keys=True) for p in flat_params}) > 1]


def table_rows(show: list[dict[str, Any]], variants: list[str] | None = None) -> tuple[list[str], list[list[Any]], int]:
    """Header, rows and how many differing params did not fit in MAX_COLUMNS."""
    found = experiments(show)
    changed = [k for k in differing_keys(params for _, params, _ in found) if k != "latent_dim"]
    shown = changed[: MAX_COLUMNS - _FIXED_COLUMNS]
    header = ["experiment", "latent_dim", *shown, "variant", *HEADLINE_KEYS.values()]
    rows = []
    for name, params, headline in found:
        for variant, numbers in headline.items():
            if variant == "eigen_reading" or (variants and variant not in variants):
                continue
            rows.append([name, params.get("latent_dim"), *[_value(params.get(k)) for k in shown], variant,
                         *[numbers.get(key) for key in HEADLINE_KEYS]])
    return header, rows, len(changed) - len(shown)


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render(header: list[str], rows: list[list[Any]]) -> str:
    """An aligned text table, one line per row."""
    cells = [header, *[[format_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in cells)


def render_csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *[[format_cell(v) for v in row] for row in rows]])
    return out.getvalue()


def dvc_exp_show(dvc_args: Sequence[str] = (), repo: Path = Path(".")) -> list[dict[str, Any]]:
    """`dvc exp show --json` of the repository, parsed (the nested JSON: its keys
    name each metrics file, where dvc.api.exp_show's flat columns drop them)."""
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json", *dvc_args]
    result = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"`dvc exp show --json {' '.join(dvc_args)}` failed in {repo.resolve()}: {last[0]}")
    return json.loads(result.stdout or "[]")

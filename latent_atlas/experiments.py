"""`python -m latent_atlas.experiments`: DVC's experiments as one readable table.

`dvc exp show` lists every param and every metric of every stage (over a
thousand columns here). This reads the same data (`dvc exp show --json`) and
prints one row per experiment and variant: the experiment, latent_dim, the
params that differ between the experiments shown, the variant and its
headline numbers (metrics/headline.json). Everything else stays one command
away: `dvc exp diff`, `dvc metrics diff`, `dvc exp show --only-changed`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from latent_atlas.config import flatten
from latent_atlas.headline import HEADLINE_KEYS
from latent_atlas.paths import HEADLINE_METRICS

MAX_COLUMNS = 40
# experiment, latent_dim, variant and the headline numbers.
_FIXED_COLUMNS = 3 + len(HEADLINE_KEYS)


def experiments(show: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, flat params, headline) of every finished row of `dvc exp show --json`.

    The workspace is dropped when it holds exactly the results of another row.
    """
    found = []
    for baseline in show:
        rows = [(baseline["rev"] if baseline["rev"] == "workspace" else baseline.get("name") or baseline["rev"][:7],
                 baseline)]
        for exp in baseline.get("experiments") or []:
            rows += [(rev.get("name") or exp.get("name") or rev["rev"][:7], rev) for rev in exp["revs"]]
        for name, row in rows:
            data = row.get("data") or {}
            headline = ((data.get("metrics") or {}).get(str(HEADLINE_METRICS)) or {}).get("data")
            params = ((data.get("params") or {}).get("params.yaml") or {}).get("data")
            if headline and params is not None:
                found.append((name, flatten(params), headline))
    workspace = [f for f in found if f[0] == "workspace"]
    if workspace and any(f[1:] == workspace[0][1:] for f in found if f[0] != "workspace"):
        found.remove(workspace[0])  # the results of a commit or experiment shown anyway
    return found


def _value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def differing_params(param_sets: Iterable[dict[str, Any]]) -> list[str]:
    """Dotted keys whose value is not the same in every set (latent_dim aside: always shown)."""
    param_sets = list(param_sets)
    keys = sorted({key for params in param_sets for key in params} - {"latent_dim"})
    return [key for key in keys if len({repr(_value(p.get(key))) for p in param_sets}) > 1]


def table_rows(show: list[dict[str, Any]], variants: list[str] | None = None) -> tuple[list[str], list[list[Any]], int]:
    """Header, rows and how many differing params did not fit in MAX_COLUMNS."""
    found = experiments(show)
    changed = differing_params(params for _, params, _ in found)
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
    cells = [header, *[[format_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def dvc_exp_show(dvc_args: list[str]) -> list[dict[str, Any]]:
    result = subprocess.run(["dvc", "exp", "show", "--json", *dvc_args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: `dvc exp show --json {' '.join(dvc_args)}` failed: "
                         f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return json.loads(result.stdout or "[]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m latent_atlas.experiments",
        description="One row per DVC experiment and variant: latent_dim, the params that differ and the "
                    "headline numbers. Other arguments go to `dvc exp show` (e.g. -A, -n 3, --rev main).")
    parser.add_argument("--variant", action="append", help="show only this variant (repeatable)")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    args, dvc_args = parser.parse_known_args(argv)
    header, rows, hidden = table_rows(dvc_exp_show(dvc_args), args.variant)
    if not rows:
        print(f"no finished experiment has {HEADLINE_METRICS}; run `dvc repro` or `dvc exp run` first",
              file=sys.stderr)
        return 2
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerows([header, *[[format_cell(v) for v in row] for row in rows]])
    else:
        print(render(header, rows))
    if hidden:
        print(f"({hidden} more params differ: `dvc exp show --only-changed` lists them)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

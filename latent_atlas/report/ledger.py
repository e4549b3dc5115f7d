"""The ledger: every claim of the catalogue, in the studies' order, and its markdown.

`CATALOGUE` is the one list of claims (one per ID of ../shared/CLAIMS.md);
the definitions live in latent_atlas.report.catalogue, one module per study.
`ledger_markdown` renders what latent_atlas.report.claims computed; it draws
no conclusion of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from latent_atlas.report import claims
from latent_atlas.report.catalogue import study000, study001, study002, study003, study004
from latent_atlas.report.claims import CheckResult, Claim, ClaimResult
from latent_atlas.report.markdown import markdown_table

CATALOGUE: tuple[Claim, ...] = (*study000.CLAIMS, *study001.CLAIMS, *study002.CLAIMS, *study003.CLAIMS,
                                *study004.CLAIMS)

STUDIES = {
    "000": "PCA of a synthetic population; a classifier AE at z=16 and z=6; noise; eigenvalues",
    "001": "a dense AE: curves, t-SNE, applications",
    "002": "a vanilla AE swept over z=2..50, a spatial conv AE, t-SNE and cluster geometry",
    "003": "a deep MLP AE against a small conv AE",
    "004": "traversals, entanglement and DCI of the z=16 classifier AE",
}

# How the ledger reads, above its tables.
METHOD = ("Each claim of the catalogue (../shared/CLAIMS.md) is answered by checks: a number read from the "
          "runs, by role (params.yaml `roles:`), and the region in which the claim is true. Over seeds a check "
          "gives the mean ± half-width of the Student-t 95% interval; it holds when the whole interval lies in "
          "the region, does not hold when it lies outside, and is inconclusive otherwise. One-sided regions "
          "exclude their border. Differences are paired by seed; a recipe experiment is paired with the runs of "
          "the same seeds without it. Exact checks (parameter counts, ratios of sizes) are decided by each run. "
          "A claim holds when all its deciding checks hold and does not hold when one does not; the other "
          "numbers are shown beside it. A study's number counts as reproduced within ±10% of it.")


def figure_link(claim: Claim, roles: Mapping[str, Sequence[str]], prefix: str = "../plots/") -> str | None:
    """The claim's figure as a relative link, with its role replaced by the role's first variant."""
    if claim.figure is None:
        return None
    if claim.figure.startswith("{"):
        role, _, rest = claim.figure[1:].partition("}")
        names = roles.get(role) or []
        if not names:
            return None
        return f"{prefix}{names[0]}{rest}"
    return f"{prefix}{claim.figure}"


def check_line(result: CheckResult) -> str:
    check = result.check
    if result.interval is None:
        number = f"not measured ({result.missing})"
    else:
        number = result.interval.text(check.fmt)
    line = f"{check.label}: {number}"
    if check.experiment is not None:
        line += f" [experiment `{check.experiment.command()}`]"
    if check.region is not None and result.interval is not None:
        line += f"; true when {check.region.text()}" + ("" if check.decides else f": {result.verdict}")
    return line


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def ledger_rows(results: Sequence[ClaimResult], roles: Mapping[str, Sequence[str]],
                prefix: str = "../plots/") -> list[dict[str, str]]:
    rows = []
    for result in results:
        claim = result.claim
        numbers = "<br>".join(_escape(check_line(r)) for r in result.checks) or "-"
        if claim.note:
            numbers += f"<br>*{_escape(claim.note)}*"
        link = figure_link(claim, roles, prefix)
        n = max((r.interval.n for r in result.checks if r.interval is not None), default=None)
        rows.append({"id": claim.id, "quote": _escape(claim.quote), "kind": claim.kind, "numbers": numbers,
                     "n": n, "verdict": f"**{result.verdict}**" + (f": {_escape(result.reason)}" if result.reason else ""),
                     "figure": f"[figure]({link})" if link else None})
    return rows


COLUMNS = (("id", "ID", "{}"), ("quote", "claim", "{}"), ("kind", "kind", "{}"), ("numbers", "numbers", "{}"),
           ("n", "n", "{}"), ("verdict", "verdict", "{}"), ("figure", "figure", "{}"))


def counts_table(results: Sequence[ClaimResult]) -> str:
    found = claims.counts(results)
    return markdown_table([{"verdict": v, "claims": n} for v, n in found.items()],
                          (("verdict", "verdict", "{}"), ("claims", "claims", "{}")))


def ledger_markdown(results: Sequence[ClaimResult], roles: Mapping[str, Sequence[str]], n_runs: int,
                    title: str = "# latent-atlas: the studies' claims", prefix: str = "../plots/") -> str:
    """The whole ledger: counts by verdict, then one table per study."""
    lines = [title, "", f"{len(results)} claims, measured on {n_runs} run{'s' if n_runs != 1 else ''}. {METHOD}",
             "", counts_table(results), ""]
    if n_runs < 2:
        lines += ["One run: numbers without intervals; only exact checks give verdicts. Replicate seeds give the "
                  "rest: `dvc exp run --queue -S seed=1,2,3,4,5`, `dvc queue start`, then `latent-atlas "
                  "replicates`.", ""]
    for study, about in STUDIES.items():
        shown = [r for r in results if r.claim.study == study]
        if shown:
            lines += [f"## Study {study}: {about}", "", markdown_table(ledger_rows(shown, roles, prefix), COLUMNS), ""]
    return "\n".join(lines).rstrip() + "\n"

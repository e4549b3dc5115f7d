"""Stage claims: every claim of the studies' catalogue against this run's numbers.

Writes metrics/claims.json (each check's number in this run, or why there is
none: what `latent-atlas replicates` gathers over seeds) and reports/claims.md
(the ledger of this run).
"""

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.config import flatten
from latent_atlas.io import read_history, read_json, write_json, write_text
from latent_atlas.report import claims
from latent_atlas.report.ledger import CATALOGUE, ledger_markdown
from latent_atlas.report.run_data import RunData, variant_numbers


def main(args, params):
    names = list(params.variants)
    run = RunData(
        roles=params.roles.assigned(),
        variants=variant_numbers({n: read_json(paths.analysis(n)) for n in names},
                                 {n: read_json(paths.train_metrics(n)) for n in names}),
        details={n: read_json(paths.analysis_details(n)) for n in names},
        histories={n: read_history(paths.history(n)) for n in names},
        baseline=read_json(paths.BASELINE_METRICS), population=read_json(paths.PCA_METRICS),
        judge=read_json(paths.JUDGE_METRICS), params=flatten(params.model_dump()),
        # A pipeline without an application's stage leaves its claims "not measured".
        applications={path.stem: read_json(path) for path in paths.APPLICATION_METRICS if path.exists()})
    values = claims.run_values(CATALOGUE, run)
    results = claims.ledger(CATALOGUE, {"this run": values})
    write_json(paths.CLAIMS_METRICS, values)
    write_text(paths.CLAIMS_REPORT, ledger_markdown(results, run.roles, n_runs=1))
    found = claims.counts(results)
    print(f"{len(results)} claims -> {paths.CLAIMS_REPORT}: " + ", ".join(f"{v} {n}" for v, n in found.items() if n))


if __name__ == "__main__":
    run_stage(main, __doc__)

"""Stage track: log this pipeline run to MLflow, one parent run and one child per variant.

The only stage that talks to MLflow. It has no outputs, so DVC never restores
it from its run cache: every pipeline run that changes a result or a param is
logged, including one whose other stages were all restored.
"""

from pathlib import Path

from latent_atlas import timing
from latent_atlas.cli import run_stage
from latent_atlas.tracking import runs, store
from latent_atlas.tracking.record import pipeline_record


def main(args, params):
    record = pipeline_record(params, Path(args.params), store.experiment_name(),
                             store.git_commit(Path.cwd()))
    with timing.phase("tracking"):
        run_id = runs.log_pipeline(record)
    print(f"MLflow: run {run_id} ({record.run_name}) with {len(record.variants)} variant runs "
          f"in {store.EXPERIMENT_NAME!r} at {store.display_uri()}")


if __name__ == "__main__":
    run_stage(main, __doc__)

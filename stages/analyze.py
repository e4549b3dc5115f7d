"""Stage analyze: metrics and figures of one variant's latent space."""

from pathlib import Path

from latent_atlas import paths, tracking
from latent_atlas.analysis import analyze_variant
from latent_atlas.cli import run_stage
from latent_atlas.io import write_json


def main(args, params):
    result = analyze_variant(args.variant, params)
    write_json(paths.analysis(args.variant), result.metrics)
    params_text = Path(args.params).read_text()
    with tracking.start_variant_run(args.variant, params_text, {"stage": "analyze"}, run_id=result.run_id):
        import mlflow

        mlflow.log_metrics({f"test_{k}": v for k, v in result.scalars().items()})
        for figure in result.figures:
            mlflow.log_artifact(str(figure), "plots")
        mlflow.log_artifact(str(paths.analysis(args.variant)), "metrics")
    print(f"{args.variant}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.headline().items()))


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)

"""Stage analyze: metrics and figures of one variant's latent space."""

from latent_atlas import paths
from latent_atlas.analysis.variant import analyze_variant
from latent_atlas.cli import run_stage
from latent_atlas.executions import mark_executed, now_ms
from latent_atlas.io import write_json


def main(args, params):
    start_ms = now_ms()
    result = analyze_variant(args.variant, params)
    write_json(paths.analysis(args.variant), result.metrics)
    write_json(paths.analysis_details(args.variant), result.details)
    mark_executed("analyze", args.variant, start_ms)
    print(f"{args.variant}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.headline().items()))
    if result.metrics.get("posterior_collapse"):
        print(f"{args.variant}: posterior collapse: 0 active units")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
          + f"; total {sum(result.seconds.values()):.1f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)

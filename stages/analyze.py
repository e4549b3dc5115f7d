"""Stage analyze: metrics and figures of one variant's latent space."""

import os

# OpenMP threads (t-SNE, k-means, torch) spin while they wait by default; on a
# CPU shared with other jobs a spinning thread holds the core its partner
# needs. Passive waiting made a 2,000-point t-SNE 3x faster on a loaded 2-core
# machine (46 s -> 16 s). It must be set before any OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from latent_atlas import paths  # noqa: E402
from latent_atlas.analysis import analyze_variant  # noqa: E402
from latent_atlas.cli import run_stage  # noqa: E402
from latent_atlas.io import write_json  # noqa: E402
from latent_atlas.record import mark_executed  # noqa: E402


def main(args, params):
    result = analyze_variant(args.variant, params)
    write_json(paths.analysis(args.variant), result.metrics)
    write_json(paths.analysis_details(args.variant), result.details)
    mark_executed("analyze", args.variant)
    print(f"{args.variant}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.headline().items()))
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
          + f"; total {sum(result.seconds.values()):.1f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)

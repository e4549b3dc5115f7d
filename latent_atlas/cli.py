"""What every stage script shares: argument parsing and one-line failures."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from latent_atlas import tracking
from latent_atlas.config import ConfigError, Params, load_params

# Errors the user can act on: printed as one line, exit code 2, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ValueError, FileNotFoundError, RuntimeError)


def run_stage(main: Callable[[argparse.Namespace, Params], None], description: str, variant: bool = False,
              tracked: bool = False) -> None:
    """Parse arguments, validate params.yaml, check the tracking server, run `main`.

    tracked: the stage logs to MLflow. It then checks MLFLOW_TRACKING_URI's
    server before any work, so an unreachable server costs seconds, not a
    training run.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    if variant:
        parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "mlflow", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        params = load_params(args.params)
        if variant:
            params.variant(args.variant)
        if tracked:
            tracking.check_server(tracking.tracking_uri())
        main(args, params)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

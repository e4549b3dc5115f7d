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


def _stage_tracks(main: Callable) -> bool:
    """A stage logs to MLflow when its module uses latent_atlas.tracking."""
    module = sys.modules.get(getattr(main, "__module__", ""), None)
    return getattr(module, "tracking", None) is tracking


def run_stage(main: Callable[[argparse.Namespace, Params], None], description: str, variant: bool = False,
              tracked: bool | None = None) -> None:
    """Parse arguments, validate params.yaml, check the tracking server, run `main`.

    tracked: the stage logs to MLflow (None: it does when its module imports
    latent_atlas.tracking). A tracked stage checks MLFLOW_TRACKING_URI's server
    before any work, so an unreachable server costs seconds, not a training run.
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
        if _stage_tracks(main) if tracked is None else tracked:
            tracking.check_server(tracking.tracking_uri())
        main(args, params)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

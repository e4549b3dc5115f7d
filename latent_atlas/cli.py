"""What every stage script shares: argument parsing, the tracking-server check, one-line failures.

A UserError (latent_atlas.errors) is printed as one line and exits 2. Any other
exception is a bug: Python prints its traceback and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from latent_atlas import timing
from latent_atlas.arch import N_CLASSES
from latent_atlas.config import Params, load_params
from latent_atlas.errors import ConfigError, UserError
from latent_atlas.tracking.server import check_server
from latent_atlas.tracking.store import tracking_uri

USER_ERROR_EXIT = 2


def run_stage(main: Callable[[argparse.Namespace, Params], None], description: str, variant: bool = False,
              digit: bool = False) -> None:
    """Parse arguments, validate params.yaml, check the tracking server, run `main`.

    Every stage checks MLFLOW_TRACKING_URI's server (when it names one) before
    any work: a pipeline whose records cannot reach the team's server stops in
    its first stage, within seconds, not after an hour of training. The check
    is one HTTP call without importing MLflow (latent_atlas.tracking.server).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    if variant:
        parser.add_argument("--variant", required=True, help="a key of `variants` in params.yaml")
    if digit:
        parser.add_argument("--digit", required=True, type=int, help="the normal digit, 0-9")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "mlflow", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        params = load_params(args.params)
        if variant:
            params.variant(args.variant)
        if digit and args.digit not in range(N_CLASSES):
            raise ConfigError(f"--digit {args.digit} is not allowed: use a digit 0-9")
        check_server(tracking_uri())
        instance = args.variant if variant else str(args.digit) if digit else None  # foreach's @<key>
        with timing.stage_timer(timing.stage_name(main, instance)):
            main(args, params)
    except UserError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)


def one_line(exc: BaseException) -> str:
    """The message on one line: a server's or a parser's words may span several."""
    return " ".join(str(exc).split())


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler's stop, `kill`): unwinds the stage like Ctrl-C does."""


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into Terminated inside the block, so the stage can say what it did before it stops."""
    def stop(signum, _frame):
        raise Terminated(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

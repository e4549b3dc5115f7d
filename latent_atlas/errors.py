"""Errors the user can fix, by kind.

A stage prints a UserError as one line that names the key, the file or the URI
to fix, and exits 2 (latent_atlas.cli). Every other exception is a bug: it keeps
its traceback and exits 1. Raise a UserError only where the cause is outside
the code (params.yaml, a file on disk, the network, a server), never to hide a
failed assertion about the code's own state.

The kinds derive from UserError alone, not from builtin exceptions: a
ValueError is a bug's, a ConfigError the user's, and no `except ValueError`
can swallow one for the other.
"""

from __future__ import annotations


class UserError(Exception):
    """Something outside the code is wrong; the message says what to change."""


class ConfigError(UserError):
    """A params.yaml problem: names the key, the value and what is allowed."""


class DataError(UserError):
    """A dataset could not be obtained, or failed verification: names the source."""


class MissingFileError(UserError):
    """A pipeline input does not exist: names the file and the stage that makes it."""


class DamagedFileError(UserError):
    """A file exists but does not hold what it should (damaged, truncated, or stale
    against the files it was made from): names the file and the stage to rerun."""


class TrackingError(UserError):
    """The MLflow store or server cannot be used: names the URI and the reason."""


class DivergedError(UserError):
    """Training produced a non-finite loss: names the variant and the epoch."""

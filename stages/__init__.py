"""Thin DVC stage scripts; run as `python -m stages.<name>` from the repository root."""

import os

# OpenMP threads (torch, t-SNE, k-means) spin while they wait by default; on a
# CPU shared with anything else, even DVC itself, a spinning thread holds the
# core its partner needs (bench/README.md, "Training"). It must be set before
# an OpenMP runtime loads: this package runs before any stage.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

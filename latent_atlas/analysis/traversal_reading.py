"""Reading a traversal grid: what each latent dim does to the digit, in numbers.

Along one dim's row of decoded images, the fixed judge says whether the
digit's identity changes and how sure it stays; sharpness (against the
source image) says whether it blurs; Morpho-MNIST's stroke thickness and
slant say whether it restyles the stroke. Each dim that changes the image
at all gets a kind: identity (the judge's label changes), else stroke or
rotation, whichever of the two measures moves more (in units of its spread
over the test digits).
"""

from __future__ import annotations

import numpy as np

from latent_atlas.analysis.recognizability import gradient_energy
from latent_atlas.data.morpho import morphometrics

KINDS = ("identity", "stroke", "rotation")


def row_effects(grid: np.ndarray) -> np.ndarray:
    """Mean absolute pixel change between consecutive steps, per row. (rows, steps, H, W) -> (rows,)."""
    return np.abs(np.diff(np.asarray(grid, dtype=np.float64), axis=1)).mean(axis=(1, 2, 3))


def dead_rows(effects: np.ndarray, fraction: float) -> np.ndarray:
    """Rows whose effect is under `fraction` of the largest (all of them when nothing moves)."""
    effects = np.asarray(effects, dtype=np.float64)
    top = effects.max(initial=0.0)
    return effects < fraction * top if top > 0 else np.ones(effects.shape, dtype=bool)


def dim_kinds(label_changes: np.ndarray, thickness_range: np.ndarray, slant_range: np.ndarray,
              dead: np.ndarray) -> list[str]:
    """Each row's kind: "dead", "identity", "stroke" or "rotation" (see the module's docstring)."""
    kinds = []
    for changes, thick, slant, is_dead in zip(label_changes, thickness_range, slant_range, dead, strict=True):
        kinds.append("dead" if is_dead else "identity" if changes else "stroke" if thick >= slant else "rotation")
    return kinds


def read_grid(grid: np.ndarray, source: np.ndarray, judge, *, dead_fraction: float,
              factor_sd: dict[str, float] | None = None) -> dict[str, list]:
    """Per row of a traversal grid (rows, steps, 28, 28) of one source image (28, 28):

    traversal_label_changes (1 when the judge's label changes along the row),
    traversal_min_confidence, traversal_confidence_change (max - min of the
    judge's confidence where the label holds, else 0), traversal_min_sharpness
    (gradient energy against the source's), the thickness and slant ranges in
    units of their test-set sd, traversal_dim_kinds (see dim_kinds) and
    traversal_style_dims (1 for a stroke or rotation dim).
    """
    rows, steps = grid.shape[:2]
    flat = grid.reshape(rows * steps, *grid.shape[2:])
    probs = judge.probabilities(flat).reshape(rows, steps, -1)
    labels, confidence = probs.argmax(axis=2), probs.max(axis=2)
    changes = (labels != labels[:, :1]).any(axis=1)
    source_energy = float(gradient_energy(source[None])[0])
    sharp = gradient_energy(flat).reshape(rows, steps) / source_energy if source_energy > 0 else np.zeros((rows, steps))
    measured = morphometrics(flat)
    ranges = {}
    for name in ("thickness", "slant"):
        values = measured[name].reshape(rows, steps)
        sd = (factor_sd or {}).get(name) or 1.0
        ranges[name] = np.ptp(values, axis=1) / sd
    dead = dead_rows(row_effects(grid), dead_fraction)
    kinds = dim_kinds(changes, ranges["thickness"], ranges["slant"], dead)
    return {
        "traversal_label_changes": changes.astype(float).tolist(),
        "traversal_min_confidence": confidence.min(axis=1).tolist(),
        "traversal_confidence_change": np.where(changes, 0.0, np.ptp(confidence, axis=1)).tolist(),
        "traversal_min_sharpness": sharp.min(axis=1).tolist(),
        "traversal_thickness_range": ranges["thickness"].tolist(),
        "traversal_slant_range": ranges["slant"].tolist(),
        "traversal_dim_kinds": kinds,
        "traversal_style_dims": [float(k in ("stroke", "rotation")) for k in kinds],
    }


def kind_counts(kinds: list[str]) -> dict[str, float]:
    """How many kinds of the three are present, how many rows change the label, which rows restyle."""
    return {"traversal_kinds": float(len({k for k in kinds if k in KINDS})),
            "traversal_label_dims": float(sum(k == "identity" for k in kinds))}

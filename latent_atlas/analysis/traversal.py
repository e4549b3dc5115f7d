"""Latent traversals: decode codes with one coordinate swept, and measure what it does.

Latent traversals as a qualitative probe: Higgins et al. (2017), "beta-VAE:
Learning basic visual concepts with a constrained variational framework".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.ranks import average_ranks
from latent_atlas.analysis.traversal_reading import dead_rows, kind_counts, read_grid, row_effects
from latent_atlas.arrays import as_matrix, check_positive_int, subsample
from latent_atlas.config import TraversalParams
from latent_atlas.data.factors import Factors

log = logging.getLogger(__name__)


def _decode_flat(decode: Callable, z: np.ndarray, batch_size: int) -> np.ndarray:
    chunks = []
    for start in range(0, z.shape[0], batch_size):
        part = np.asarray(decode(z[start : start + batch_size]), dtype=np.float64)
        n = min(batch_size, z.shape[0] - start)
        if part.shape[0] != n:
            raise ValueError(f"decode returned {part.shape[0]} images for {n} latents")
        chunks.append(part.reshape(n, -1))
    return np.concatenate(chunks, axis=0)


def _mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine similarity over all pairs i != j; zero vectors count as 0."""
    n = vectors.shape[0]
    norms = np.linalg.norm(vectors, axis=1)
    used = norms > 0
    units = np.zeros_like(vectors)
    units[used] = vectors[used] / norms[used, None]
    # sum_{i != j} u_i . u_j = |sum u|^2 - sum |u_i|^2, O(n) instead of O(n^2).
    total = units.sum(axis=0)
    off_diagonal = float(total @ total) - float(np.count_nonzero(used))
    return float(np.clip(off_diagonal / (n * (n - 1)), -1.0, 1.0))


def traversal_effects(
    decode: Callable[[np.ndarray], np.ndarray],
    latents,
    values,
    dims: Sequence[int] | None = None,
    batch_size: int = 4096,
) -> dict:
    """How much, and how consistently, each latent dimension changes the image.

    For dimension j every latent has coordinate j set to each of `values` in
    turn (other coordinates kept) and decoded in float64 batches of at most
    `batch_size` rows (the caller bounds the work via `dims`). Per image we take the
    signed pixel change between consecutive traversal steps.

    - effect[j]: mean absolute pixel change per consecutive step, averaged
      over pixels, steps and images. For a linear decoder x = W z + b this is
      mean|W[:, j]| * mean|values[s+1] - values[s]|.
    - effect_per_image: (n, len(dims)), the effect on each image alone.
    - consistency[j]: mean pairwise cosine similarity across images of the
      concatenated signed step-change maps, in [-1, 1]. 1 means the dimension
      draws the same edit on every image (always 1 for a linear decoder);
      near 0 means its effect depends on the rest of the code (entangled).
      Images that do not change at all count as similarity 0, so a dead
      dimension has consistency 0.

    Consecutive steps rather than the offset from the unmodified
    reconstruction make the effect independent of where each image's own
    code sits on the traversed axis.
    """
    z = as_matrix("latents", latents, min_rows=2)
    steps = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or steps.size < 2 or not np.all(np.isfinite(steps)):
        raise ValueError(f"values must be a 1-D finite sequence of >= 2 numbers; got {values!r}")
    n, d = z.shape
    if dims is None:
        dims = list(range(d))
    dims = [int(j) for j in dims]
    bad = [j for j in dims if not 0 <= j < d]
    if bad:
        raise ValueError(f"dims {bad} are out of range; latents have dims 0..{d - 1}")
    batch_size = check_positive_int("batch_size", batch_size)
    if not callable(decode):
        raise ValueError(f"decode must be callable; got {type(decode).__name__}")

    m = steps.size
    effects, consistencies, per_image = [], [], []
    for j in dims:
        # (n, m, d): image-major so one image's traversal is contiguous.
        grid = np.repeat(z[:, None, :], m, axis=1)
        grid[:, :, j] = steps[None, :]
        images = _decode_flat(decode, grid.reshape(n * m, d), batch_size).reshape(n, m, -1)
        change = np.diff(images, axis=1)  # (n, m-1, pixels), signed
        effects.append(float(np.mean(np.abs(change))))
        consistencies.append(_mean_pairwise_cosine(change.reshape(n, -1)))
        per_image.append(np.abs(change).mean(axis=(1, 2)))  # (n,)
    return {"dims": dims, "effect": effects, "consistency": consistencies,
            "effect_per_image": np.stack(per_image, axis=1) if dims else np.zeros((n, 0))}




def profile_agreement(effect_per_image: np.ndarray) -> float:
    """Mean Spearman correlation, over pairs of images, of their per-dim effect profiles.

    1: every image ranks the dims' effects alike; near 0: which dim matters
    depends on the image (the study's "dimensions behave differently for
    different input"). Pearson of the average ranks, per pair of rows.
    """
    e = np.asarray(effect_per_image, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValueError(f"effect_per_image must be (images >= 2, dims >= 2); got {e.shape}")
    ranks = np.stack([average_ranks(row) for row in e])
    ranks -= ranks.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(ranks, axis=1)
    used = norms > 0
    units = ranks[used] / norms[used, None]
    if len(units) < 2:
        return 0.0
    total = units.sum(axis=0)
    return float((total @ total - len(units)) / (len(units) * (len(units) - 1)))


def top_variance_dims(z: np.ndarray, k: int) -> list[int]:
    """All dims when there are at most k, else the k highest-variance ones (highest first)."""
    if z.shape[1] <= k:
        return list(range(z.shape[1]))
    return [int(j) for j in np.argsort(-z.var(axis=0), kind="stable")[:k]]


def traversal_grid(decode: Callable, code: np.ndarray, dims: Sequence[int], values: np.ndarray) -> np.ndarray:
    """Decoded images with code[j] set to each value, one row per dim j: (len(dims), len(values), 28, 28)."""
    d = code.shape[0]
    codes = np.repeat(code[None, None, :], len(values), axis=1).repeat(len(dims), axis=0)  # (rows, steps, d)
    for row, j in enumerate(dims):
        codes[row, :, j] = values
    return np.asarray(decode(codes.reshape(-1, d))).reshape(len(dims), len(values), 28, 28)


def traversals_part(decode: Callable, z: np.ndarray, images01: np.ndarray, labels: np.ndarray, cfg: TraversalParams,
               *, seed: int, judge=None, factors: Factors | None = None) -> Part:
    """Latent traversal grids of chosen test images, and every dim's effect and its consistency.

    A grid row sets one latent coordinate of the image's code to each value
    in [-range, range] and decodes. Codes wider than `cfg.max_rows` show
    their highest-variance dims; effects are measured over `cfg.n_images`
    seeded test codes for at most `cfg.max_dims` dims (again the
    highest-variance ones). The first image's grid is read per dim: its
    effect (dead dims: under cfg.dead_fraction of the largest) and, with the
    judge, what each dim does to the digit (traversal_reading.read_grid).
    """
    values = np.linspace(-cfg.range, cfg.range, cfg.steps)
    n, d = z.shape
    grid_dims = top_variance_dims(z, cfg.max_rows)
    capped = "" if len(grid_dims) == d else f", the {len(grid_dims)} highest-variance of {d} dims"
    drawings, drawn, grids = {}, [], {}
    for i in cfg.images:
        if i >= n:
            log.warning("traversal image %d skipped: the test set has %d images", i, n)
            continue
        grids[int(i)] = traversal_grid(decode, z[i], grid_dims, values)
        drawings[f"traversal_{i}.png"] = Drawing(
            plots.traversal_grid, f"traversal of test image {i} (digit {labels[i]}){capped}",
            {"images": grids[int(i)], "row_names": [f"z{j}" for j in grid_dims], "values": values,
             "source": images01[i]})
        drawn.append(int(i))

    effect_dims = sorted(top_variance_dims(z, cfg.max_dims))
    sample = subsample(n, cfg.n_images, seed)
    eff = traversal_effects(decode, z[sample], values, dims=effect_dims)
    effect, consistency = np.asarray(eff["effect"]), np.asarray(eff["consistency"])
    numbers = {
        "traversal_effect_mean": float(effect.mean()),
        "traversal_consistency_mean": float(consistency.mean()),
        # Dead dims have consistency 0 by definition; weighting by effect asks
        # how consistent the dims that do something are.
        "traversal_consistency_weighted": float(effect @ consistency / effect.sum()) if effect.sum() > 0 else 0.0,
        "traversal_n_dims": len(effect_dims),
        "traversal_n_images": len(sample),
        "dead_dims": int(dead_rows(effect, cfg.dead_fraction).sum()),
    }
    if len(effect_dims) >= 2:
        numbers["traversal_profile_rank_corr"] = profile_agreement(eff["effect_per_image"])
    details = {"traversal_dims": eff["dims"], "traversal_effect": eff["effect"],
               "traversal_consistency": eff["consistency"], "traversal_values": values.tolist(),
               "traversal_images": drawn, "traversal_grid_dims": grid_dims,
               "dead_dims_list": [d for d, dead in zip(eff["dims"], dead_rows(effect, cfg.dead_fraction), strict=True)
                                  if dead]}
    if drawn:
        first = drawn[0]  # the study's image 12
        grid_effect = row_effects(grids[first])
        numbers["dead_dims_image"] = int(dead_rows(grid_effect, cfg.dead_fraction).sum())
        details["traversal_grid_effect"] = grid_effect.tolist()
        if judge is not None:
            sd = ({name: float(factors.test[:, factors.names.index(name)].std()) for name in ("thickness", "slant")}
                  if factors is not None else None)
            reading = read_grid(grids[first], images01[first], judge, dead_fraction=cfg.dead_fraction, factor_sd=sd)
            details.update(reading)
            numbers.update(kind_counts(reading["traversal_dim_kinds"]))
    drawings["traversal_effects.png"] = Drawing(
        plots.effect_bars, f"traversal effect per dim over {len(sample)} test images",
        {"dims": eff["dims"], "effect": eff["effect"], "consistency": eff["consistency"]})
    return Part(numbers, details, drawings)

"""New images from a variant's code space, judged by the fixed digit classifier.

A VAE samples its prior N(0, I). A plain autoencoder has no prior; it samples
an ex-post density fitted to its training codes, a Gaussian or a 10-component
Gaussian mixture: Ghosh et al. (2020), "From variational to deterministic
autoencoders", ICLR. Decoded samples are scored by the judge
(latent_atlas.models.judge), trained once per run on clean digits:

- fid: the Fréchet distance between the judge's penultimate features of n
  samples and of n seeded test images (Heusel et al. 2017's FID, with the
  judge in place of Inception, as is usual on MNIST). Its floor at this n is
  the source "test": n other test images, scored like samples;
- confidence: the judge's mean top-class probability;
- class_entropy: the entropy in nats of the histogram of predicted classes
  (ln 10 = 2.303 when every digit is drawn equally often);
- missing_classes: digits the judge gives to fewer than 1% of the samples.
Mode collapse shows as a low class entropy and missing classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.arch import N_CLASSES
from latent_atlas.arrays import as_matrix, subsample
from latent_atlas.config import SamplesParams

# A digit drawn for fewer than this share of the samples counts as missing.
MISSING_SHARE = 0.01
GRID_SIDE = 10  # samples shown: a 10 x 10 grid


class ImageJudge(Protocol):
    def probabilities(self, images01: np.ndarray) -> np.ndarray: ...
    def features(self, images01: np.ndarray) -> np.ndarray: ...


def feature_moments(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (f,) and covariance (f, f) of (n, f) features."""
    f = as_matrix("features", features, min_rows=2)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((c + c.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) between two Gaussians (Dowson & Landau 1982).

    Tr (C_a C_b)^(1/2) is computed as the sum of square roots of the
    eigenvalues of C_a^(1/2) C_b C_a^(1/2), a symmetric matrix with the same
    spectrum, so no non-symmetric square root is ever taken.
    """
    ma, mb = np.asarray(mean_a, dtype=np.float64), np.asarray(mean_b, dtype=np.float64)
    ca, cb = np.atleast_2d(np.asarray(cov_a, dtype=np.float64)), np.atleast_2d(np.asarray(cov_b, dtype=np.float64))
    if ma.shape != mb.shape or ca.shape != cb.shape or ca.shape != (ma.size, ma.size):
        raise ValueError(f"means {ma.shape}, {mb.shape} and covariances {ca.shape}, {cb.shape} do not match")
    root = _psd_sqrt(ca)
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0.0, None)))
    return float(max(np.sum((ma - mb) ** 2) + np.trace(ca) + np.trace(cb) - 2.0 * cross, 0.0))


def class_histogram_scores(probabilities) -> dict[str, float | int]:
    """Mean confidence, entropy (nats) of the predicted-class histogram, and the classes under 1%."""
    p = as_matrix("probabilities", probabilities)
    if p.shape[1] != N_CLASSES:
        raise ValueError(f"probabilities must have {N_CLASSES} columns; got {p.shape[1]}")
    share = np.bincount(p.argmax(axis=1), minlength=N_CLASSES) / len(p)
    used = share[share > 0]
    return {"confidence": float(p.max(axis=1).mean()),
            "class_entropy": float(-np.sum(used * np.log(used))) + 0.0,  # + 0.0: no "-0.000" for one class
            "missing_classes": int(np.sum(share < MISSING_SHARE))}


# --- where codes come from -------------------------------------------------------------


def prior_sampler(dim: int) -> Callable[[int, np.random.Generator], np.ndarray]:
    """A VAE's prior, N(0, I)."""
    return lambda n, rng: rng.standard_normal((n, dim))


def gaussian_sampler(codes) -> Callable[[int, np.random.Generator], np.ndarray]:
    """One Gaussian with the codes' mean and covariance."""
    z = as_matrix("codes", codes, min_rows=2)
    mean, cov = z.mean(axis=0), np.atleast_2d(np.cov(z, rowvar=False))
    return lambda n, rng: rng.multivariate_normal(mean, cov, size=n, method="eigh")


def mixture_sampler(codes, *, components: int, seed: int) -> Callable[[int, np.random.Generator], np.ndarray]:
    """A full-covariance Gaussian mixture fitted to the codes by EM (scikit-learn), samples shuffled."""
    z = as_matrix("codes", codes, min_rows=2)
    gmm = GaussianMixture(n_components=min(components, len(z)), covariance_type="full", random_state=seed)
    # EM on 10k x d codes is small work: threads spin-waiting on a shared CPU made
    # the fit 15x slower in CPU time (bench/README.md, "Analyses").
    with threadpool_limits(1):
        gmm.fit(z)

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        # GaussianMixture.sample draws from its own seeded state and returns the rows grouped by component.
        gmm.set_params(random_state=int(rng.integers(2**31)))
        drawn, _ = gmm.sample(n)
        return drawn[rng.permutation(n)]

    return sample


def samplers(z_train: np.ndarray, *, variational: bool, cfg: SamplesParams, seed: int) -> dict[str, Callable]:
    """source name -> sampler: the prior for a VAE; a Gaussian and a mixture fitted to training codes otherwise."""
    if variational:
        return {"prior": prior_sampler(z_train.shape[1])}
    fit = z_train[subsample(len(z_train), cfg.fit_max, seed)]
    return {"gauss": gaussian_sampler(fit), "gmm": mixture_sampler(fit, components=cfg.gmm_components, seed=seed)}


# --- the part --------------------------------------------------------------------------


def interpolations(decode: Callable[[np.ndarray], np.ndarray], z_test: np.ndarray, *, pairs: int, steps: int,
                   seed: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Decoded straight lines between seeded pairs of test codes: (pairs, steps, 28, 28), and the pairs."""
    rng = np.random.default_rng(seed)
    ends = [tuple(int(i) for i in rng.choice(len(z_test), size=2, replace=False)) for _ in range(pairs)]
    t = np.linspace(0.0, 1.0, steps)[:, None]
    codes = np.concatenate([(1 - t) * z_test[a] + t * z_test[b] for a, b in ends])  # (pairs * steps, d)
    return np.asarray(decode(codes)).reshape(pairs, steps, 28, 28), ends


def reference_split(n_test: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint seeded sets of test rows, n each where the test set has 2n (else half of it each):
    the reference the samples are compared with, and the real images scored as the floor."""
    order = np.random.default_rng(seed).permutation(n_test)
    size = min(n, n_test // 2)
    return np.sort(order[:size]), np.sort(order[size : 2 * size])


def judge_images(images01: np.ndarray, judge: ImageJudge, reference: tuple[np.ndarray, np.ndarray]) -> dict:
    """fid against the reference moments, confidence, class_entropy and missing_classes of (n, 28, 28) images."""
    return {"fid": frechet_distance(*feature_moments(judge.features(images01)), *reference),
            **class_histogram_scores(judge.probabilities(images01))}


def samples_part(decode: Callable[[np.ndarray], np.ndarray], z_train: np.ndarray, z_test: np.ndarray,
                 images_test01: np.ndarray, judge: ImageJudge, cfg: SamplesParams, *, variational: bool,
                 seed: int) -> Part:
    """samples_<source>_{fid, confidence, class_entropy, missing_classes} for each source and for real test
    images (source "test", the floor), grids of samples, and latent interpolations between test codes."""
    reference_rows, real_rows = reference_split(len(images_test01), cfg.n, seed)
    reference = feature_moments(judge.features(images_test01[reference_rows]))
    metrics: dict[str, float | int] = {"samples_n": cfg.n, "samples_reference_n": len(reference_rows)}
    metrics.update({f"samples_test_{k}": v for k, v in judge_images(images_test01[real_rows], judge,
                                                                     reference).items()})
    rng = np.random.default_rng(seed)
    drawings = {}
    for source, sample in samplers(z_train, variational=variational, cfg=cfg, seed=seed).items():
        images = np.asarray(decode(sample(cfg.n, rng).astype(np.float32)))  # (n, 28, 28) in [0,1]
        scores = judge_images(images, judge, reference)
        metrics.update({f"samples_{source}_{k}": v for k, v in scores.items()})
        shown = images[: GRID_SIDE * GRID_SIDE]
        drawings[f"samples_{source}.png"] = Drawing(
            plots.image_rows, f"samples from the {source}: FID {scores['fid']:.1f}, confidence "
                              f"{scores['confidence']:.2f}, class entropy {scores['class_entropy']:.2f} nats",
            {"rows": [shown[r : r + GRID_SIDE] for r in range(0, len(shown), GRID_SIDE)],
             "row_names": [""] * -(-len(shown) // GRID_SIDE)})
    grid, ends = interpolations(decode, z_test, pairs=cfg.interpolation_pairs, steps=cfg.interpolation_steps,
                                seed=seed)
    drawings["interpolations.png"] = Drawing(
        plots.image_rows, "straight lines between the codes of two test images",
        {"rows": list(grid), "row_names": [f"{a} → {b}" for a, b in ends]})
    return Part(metrics, {"interpolation_pairs": [list(p) for p in ends]}, drawings)

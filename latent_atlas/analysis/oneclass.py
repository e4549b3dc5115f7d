"""One normal digit of the one-class protocol: Ruff et al. (2018), "Deep One-Class Classification", ICML.

For a digit c, a model sees only the training images of c; then every test
image is scored, c counting as normal and the nine other digits as
anomalies. Three scores, higher meaning more anomalous:
- recon: the per-image reconstruction error of a conv autoencoder trained on c;
- code_knn: the mean distance of an image's code to its k nearest training codes;
- pixel_knn: the same distance in pixel space, the baseline without a model.

Preprocessing follows the paper: each image's global contrast normalisation
with the L1 norm, then min-max scaling with the normal class's minimum and
maximum over its training images (the paper's code hard-codes these per
class; here they are computed from the training images). `preprocessing:
unit` keeps pixels / 255 instead. Nearest neighbours come from scikit-learn
(a tree or a blocked brute-force search), never a dense matrix of training
distances. analysis.anomaly gathers the digits into the table and the ROC curves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from latent_atlas.arrays import as_matrix, check_positive_int
from latent_atlas.config import Params
from latent_atlas.models.inference import codes_and_errors
from latent_atlas.models.training import train_recipe

SCORES = ("recon", "code_knn", "pixel_knn")


def global_contrast_normalise(images: np.ndarray) -> np.ndarray:
    """(n, ...) images -> (n, features): each image minus its mean, divided by its mean absolute deviation (L1)."""
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    x = x - x.mean(axis=1, keepdims=True)
    scale = np.abs(x).mean(axis=1, keepdims=True)
    return x / np.where(scale > 0, scale, 1.0)  # a blank image stays 0


def preprocess(train01: np.ndarray, test01: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """The normal class's training images and all test images, (n, 784) each, as the model sees them.

    gcn: global contrast normalisation, then min-max scaling by the training
    images' overall min and max, so the normal class spans [0, 1] (anomalies may not).
    """
    train = np.asarray(train01, dtype=np.float64).reshape(len(train01), -1)
    test = np.asarray(test01, dtype=np.float64).reshape(len(test01), -1)
    if how == "unit":
        return train, test
    if how != "gcn":
        raise ValueError(f"preprocessing={how!r} is not allowed; use gcn or unit")
    train, test = global_contrast_normalise(train), global_contrast_normalise(test)
    low, high = train.min(), train.max()
    span = high - low if high > low else 1.0
    return (train - low) / span, (test - low) / span


def knn_distance(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance of each query row to its k nearest reference rows."""
    reference, queries = as_matrix("reference", reference), as_matrix("queries", queries)
    k = check_positive_int("k", k, upper=len(reference))
    distances, _ = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(queries)
    return distances.mean(axis=1)


def auroc(is_anomaly: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random anomaly scores above a random normal image (ties half)."""
    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError(f"AUROC needs normal images and anomalies; got {int(is_anomaly.sum())} anomalies "
                         f"among {len(is_anomaly)}")
    return float(roc_auc_score(is_anomaly, scores))


@dataclass
class OneClassResult:
    digit: int
    scores: dict[str, np.ndarray]  # score name -> (n_test,), higher = more anomalous
    is_anomaly: np.ndarray  # (n_test,) bool
    n_train: int
    train_seconds: float
    score_seconds: float

    def metrics(self) -> dict[str, float | int]:
        return {"digit": self.digit, "n_train": self.n_train, "n_test": len(self.is_anomaly),
                **{f"auroc_{name}": auroc(self.is_anomaly, s) for name, s in self.scores.items()}}


def to_model_range(rows: np.ndarray, input_range: str) -> torch.Tensor:
    """(n, 784) preprocessed rows (the normal class in [0, 1]) -> (n, 1, 28, 28) float32 in the model's range."""
    x = torch.as_tensor(rows, dtype=torch.float32).reshape(-1, 1, 28, 28)  # (n, 1, 28, 28)
    return x * 2.0 - 1.0 if input_range == "symmetric" else x


def one_class_run(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                  test_labels: np.ndarray, digit: int, params: Params, device: torch.device, *,
                  progress: bool = False) -> OneClassResult:
    """Train the conv AE of params.anomaly.model on the training images of `digit` (uint8) and score every
    test image three ways."""
    cfg = params.anomaly
    normal = np.asarray(train_labels) == digit
    train, test = preprocess(train_images[normal] / 255.0, test_images / 255.0, cfg.preprocessing)
    x_train, x_test = to_model_range(train, cfg.model.input_range), to_model_range(test, cfg.model.input_range)
    start = time.perf_counter()
    trained = train_recipe(cfg.model, cfg.model.latent_dim or 0, x_train, params, device, key="anomaly.model",
                           images=f"training images of digit {digit}", progress=progress)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    train_codes, _ = codes_and_errors(trained.model, x_train, device)
    test_codes, test_errors = codes_and_errors(trained.model, x_test, device)
    k = min(cfg.knn_k, len(train))
    scores = {"recon": test_errors.astype(np.float64), "code_knn": knn_distance(train_codes, test_codes, k),
              "pixel_knn": knn_distance(train, test, k)}
    return OneClassResult(digit, scores, np.asarray(test_labels) != digit, int(normal.sum()), train_seconds,
                          time.perf_counter() - start)

"""One-class anomaly detection over the digits: the AUROC table and the ROC curves.

Each digit's scores come from analysis.oneclass (Ruff et al. 2018's
protocol). The published one-class Deep SVDD row stands beside ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import roc_curve

from latent_atlas.analysis import plots
from latent_atlas.analysis.oneclass import SCORES, auroc
from latent_atlas.analysis.parts import Drawing, Part

# A ROC plot file's rows: one curve per normal digit.
ROC_COLUMNS = ("digit", "fpr", "tpr")
# One-class Deep SVDD's AUROC (%) per normal digit, Ruff et al. (2018), Table 1 (MNIST).
DEEP_SVDD_PUBLISHED = {0: 98.0, 1: 99.7, 2: 91.7, 3: 91.9, 4: 94.9, 5: 88.5, 6: 98.3, 7: 94.6, 8: 93.9, 9: 96.5}


def roc_rows(is_anomaly: np.ndarray, scores: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve at `points` evenly spaced false-positive rates in [0, 1] (true-positive rates interpolated)."""
    fpr, tpr, _ = roc_curve(np.asarray(is_anomaly, dtype=bool), scores)
    grid = np.linspace(0.0, 1.0, points)
    return grid, np.interp(grid, fpr, tpr)


def anomaly_part(results: Mapping[int, tuple[np.ndarray, Mapping[str, np.ndarray]]], roc_points: int) -> Part:
    """digit -> (is_anomaly, scores by name): AUROC per digit and on average, ROC rows and curves.

    details["roc"][score] is a list of {digit, fpr, tpr} rows (a DVC plot file);
    details["table"] one row per digit with the published Deep SVDD AUROC beside ours.
    """
    digits = sorted(results)
    table, roc = [], {name: [] for name in SCORES}
    for digit in digits:
        is_anomaly, scores = results[digit]
        row = {"digit": digit, "deep_svdd_published": DEEP_SVDD_PUBLISHED[digit] / 100}
        for name in SCORES:
            row[name] = auroc(is_anomaly, scores[name])
            fpr, tpr = roc_rows(is_anomaly, scores[name], roc_points)
            roc[name] += [{"digit": digit, "fpr": float(f), "tpr": float(t)} for f, t in zip(fpr, tpr, strict=True)]
        table.append(row)
    means = {f"mean_auroc_{name}": float(np.mean([row[name] for row in table])) for name in SCORES}
    metrics = {"n_digits": len(digits), **means,
               **{f"digit_{row['digit']}": {f"auroc_{name}": row[name] for name in SCORES} for row in table}}
    drawings = {f"roc_{name}.png": Drawing(
        plots.curves, f"ROC of the {name} score, each digit normal in turn",
        {"series": {f"digit {r['digit']} (AUROC {r[name]:.3f})": _curve(roc[name], r["digit"]) for r in table},
         "xlabel": "false-positive rate", "ylabel": "true-positive rate"}) for name in SCORES}
    return Part(metrics, {"table": table, "roc": roc}, drawings)


def _curve(rows: Sequence[dict], digit: int) -> tuple[list[float], list[float]]:
    mine = [r for r in rows if r["digit"] == digit]
    return [r["fpr"] for r in mine], [r["tpr"] for r in mine]

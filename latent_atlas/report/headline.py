"""The headline numbers: one short row per variant, the file DVC's experiment
table and MLflow's parent runs show (metrics/headline.json).

Every other number stays in its own metrics file (metrics/analyze/<variant>.json
and friends), reachable with `dvc metrics diff` and `dvc exp diff`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Quantity -> short column title. The keys are the quantities' names everywhere:
# metrics/analyze/<variant>.json, MLflow and the report.
HEADLINE_KEYS: dict[str, str] = {
    "test_mse": "mse",
    "accuracy": "acc",
    "purity_best": "purity",
    "probe_linear_accuracy": "probe",
    "dci_disentanglement": "D",
    "dci_completeness": "C",
    "dci_informativeness": "I",
}


def headline_metrics(analyses: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """variant -> its headline numbers (accuracy only where the variant classifies)."""
    return {name: {key: metrics[key] for key in HEADLINE_KEYS if metrics.get(key) is not None}
            for name, metrics in analyses.items()}

"""The synthetic population of the PCA study (SPEC section 1).

The study seeded numpy's legacy global generator and drew the columns in
order; a RandomState with the same seed yields the same draws without touching
global state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("Age", "Gender", "Religion", "Occupation", "Salary", "Housing_Status")
# Study 000's np.random.seed(42): the generator its numbers come from, whatever this run's seed.
STUDY_SEED = 42


def make_population(n_people: int, seed: int) -> pd.DataFrame:
    if n_people < 1:
        raise ValueError(f"n_people={n_people} is not allowed; use a positive count")
    rng = np.random.RandomState(seed)  # legacy stream: the study's exact draws
    columns = {
        "Age": rng.randint(18, 65, n_people),
        "Gender": rng.choice([0, 1], n_people),
        "Religion": rng.choice([0, 1, 2], n_people),
        "Occupation": rng.randint(1, 10, n_people),
        "Salary": rng.normal(5000, 1500, n_people),
        "Housing_Status": rng.choice([0, 1], n_people),
    }
    return pd.DataFrame(columns, columns=list(COLUMNS))

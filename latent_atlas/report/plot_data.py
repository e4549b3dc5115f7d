"""The rows behind the comparison figures, as DVC plot files.

The analyses keep their curves as bare lists in each variant's
metrics/analyze/<variant>.details.json, which DVC cannot plot. `compare`
turns them into one JSON file of rows per figure under plots/data/, every
variant in one file with a `series` column naming the line a row is on
(a variant, a recipe, or PCA), so that dvc.yaml's plot definitions and the
templates in .dvc/plots/ draw every variant in one chart and `dvc plots diff
A B` overlays the experiments. Rows are checked before they are written
(latent_atlas.plotfiles): a missing column fails the stage, naming it.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path
from typing import Any

from latent_atlas import paths
from latent_atlas.config import Params
from latent_atlas.errors import DamagedFileError
from latent_atlas.plotfiles import write_json_rows

PCA_SERIES = "PCA"
MSE_COLUMNS = ("series", "variant", "latent_dim", "test_mse")
NOISE_COLUMNS = ("series", "variant", "noise_std", "recon_mse", "latent_shift", "input_mse")
SPECTRA_COLUMNS = ("series", "variant", "rank", "eigenvalue", "explained_ratio", "cumulative_ratio")
CONFUSION_COLUMNS = ("variant", "actual", "predicted", "count")


def _lists(details: dict[str, Any], name: str, *keys: str) -> list[list]:
    """The details' lists under `keys`, equally long; a stale or damaged details file names itself."""
    where = paths.analysis_details(name)
    missing = [key for key in keys if not isinstance(details.get(key), list)]
    if missing:
        raise DamagedFileError(f"{where} has no list {missing[0]!r}; rerun the analysis (dvc repro --force "
                               f"analyze@{name})")
    lengths = {len(details[key]) for key in keys}
    if len(lengths) != 1:
        raise DamagedFileError(f"{where}: {', '.join(keys)} differ in length; rerun the analysis")
    return [details[key] for key in keys]


def mse_vs_latent_rows(params: Params, analyses: dict[str, dict], baseline: dict) -> list[dict]:
    """Test MSE against latent size: PCA at each k, and every autoencoder on its recipe's line
    (the latent-size sweep shares one recipe, so it is one line)."""
    rows = [{"series": PCA_SERIES, "variant": f"{PCA_SERIES} k={int(entry['latent_dim'])}",
             "latent_dim": int(entry["latent_dim"]), "test_mse": float(entry["test_mse"])}
            for entry in sorted(baseline["pca"].values(), key=lambda e: e["latent_dim"])]
    for name, metrics in analyses.items():
        rows.append({"series": params.variant(name).recipe or name, "variant": name,
                     "latent_dim": int(metrics["latent_dim"]), "test_mse": float(metrics["test_mse"])})
    return rows


def noise_rows(details: dict[str, dict]) -> list[dict]:
    """Reconstruction error and latent shift per noise level, one line per variant."""
    rows = []
    for name, d in details.items():
        stds, recon, shift, added = _lists(d, name, "noise_std", "noise_recon_mse", "noise_latent_shift",
                                           "noise_input_mse")
        rows += [{"series": name, "variant": name, "noise_std": float(s), "recon_mse": float(r),
                  "latent_shift": float(z), "input_mse": float(a)}
                 for s, r, z, a in zip(stds, recon, shift, added, strict=True)]
    return rows


def spectrum_rows(details: dict[str, dict]) -> list[dict]:
    """The code covariance's eigenvalues by rank, their share and its running total, one line per variant."""
    rows = []
    for name, d in details.items():
        eigenvalues, ratios = _lists(d, name, "eigenvalues", "explained_ratio")
        rows += [{"series": name, "variant": name, "rank": rank, "eigenvalue": float(e), "explained_ratio": float(r),
                  "cumulative_ratio": float(c)}
                 for rank, (e, r, c) in enumerate(zip(eigenvalues, ratios, accumulate(ratios), strict=True), 1)]
    return rows


def confusion_rows(details: dict[str, dict]) -> list[dict]:
    """Every cell of each classifier head's confusion matrix on the test images."""
    rows = []
    for name, d in details.items():
        if "confusion" not in d:  # a variant without a classifier head
            continue
        rows += [{"variant": name, "actual": actual, "predicted": predicted, "count": int(count)}
                 for actual, counts in enumerate(d["confusion"]) for predicted, count in enumerate(counts)]
    return rows


def write_plot_data(params: Params, analyses: dict[str, dict], details: dict[str, dict], baseline: dict) -> list[Path]:
    """Every comparison figure's rows, one DVC plot file each."""
    return [
        write_json_rows(paths.MSE_VS_LATENT_PLOT, mse_vs_latent_rows(params, analyses, baseline), MSE_COLUMNS),
        write_json_rows(paths.NOISE_PLOT, noise_rows(details), NOISE_COLUMNS),
        write_json_rows(paths.SPECTRA_PLOT, spectrum_rows(details), SPECTRA_COLUMNS),
        write_json_rows(paths.CONFUSION_PLOT, confusion_rows(details), CONFUSION_COLUMNS),
    ]

"""The applications' tables as markdown (reports/applications/<name>.md), one page per stage.

Each takes what its stage computed (the metrics file's mapping and the rows
behind it) and only formats it; one seed states numbers, the replicates give
intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from latent_atlas.report.markdown import markdown_table


def denoise_markdown(rows: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any]) -> str:
    """PSNR (dB) and the judge's accuracy per noise level, one column per method."""
    methods = list(dict.fromkeys(row["method"] for row in rows))
    by_sigma: dict[float, dict[str, Any]] = {}
    for row in rows:
        entry = by_sigma.setdefault(row["sigma"], {"sigma": row["sigma"]})
        entry[f"psnr_{row['method']}"] = row["psnr"]
        entry[f"judge_{row['method']}"] = row["judge_accuracy"]
    table = list(by_sigma.values())
    return "\n".join([
        "# Denoising", "",
        f"{metrics['n_images']:,} test images with Gaussian pixel noise (clamped to [0,1]); each output against "
        "the clean image. Noise std 0 is the clean images: an autoencoder's row there is the ceiling its "
        "bottleneck sets. Non-local means' h = factor x sigma, the factor tuned per sigma on training images.", "",
        "## PSNR (dB, mean over images)", "",
        markdown_table(table, [("sigma", "noise std", "{:g}"), *[(f"psnr_{m}", m, "{:.2f}") for m in methods]]), "",
        "## The fixed judge's accuracy on each output", "",
        markdown_table(table, [("sigma", "noise std", "{:g}"), *[(f"judge_{m}", m, "{:.4f}") for m in methods]]), "",
        "Figures: `plots/denoise/psnr.png`, `plots/denoise/judge_accuracy.png`, "
        "`plots/denoise/examples_sigma_*.png`; rows: `plots/denoise/psnr.json`.", ""])


def anomaly_markdown(table: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any]) -> str:
    """AUROC per normal digit for each score, beside the published one-class Deep SVDD."""
    scores = [key.removeprefix("mean_auroc_") for key in metrics if key.startswith("mean_auroc_")]
    mean_row = {"digit": "mean", **{name: metrics[f"mean_auroc_{name}"] for name in scores},
                "deep_svdd_published": sum(r["deep_svdd_published"] for r in table) / len(table)}
    return "\n".join([
        "# One-class anomaly detection (Ruff et al. 2018's protocol)", "",
        "Each digit normal in turn: a conv AE trained on its training images alone; every test image scored; "
        "AUROC with the nine other digits as anomalies. Deep SVDD: the published one-class row (Ruff et al. "
        "2018, Table 1), not rerun here (bench/anomaly_peer.py runs its program).", "",
        markdown_table([*table, mean_row], [("digit", "normal digit", "{}"),
                                            *[(name, name, "{:.4f}") for name in scores],
                                            ("deep_svdd_published", "Deep SVDD (published)", "{:.3f}")]), "",
        "ROC curves: `plots/anomaly/roc_<score>.png`, rows `plots/anomaly/roc_<score>.json`.", ""])


def mislabel_markdown(metrics: Mapping[str, Any]) -> str:
    """Each representation's detection of the flipped labels."""
    lines = ["# Mislabel detection", "",
             f"{metrics['n_flipped']:,} of {metrics['n_images']:,} training labels flipped (seeded); each image "
             f"scored by the share of its {metrics['k']} nearest neighbours whose label differs from its own.", ""]
    if "pixels" not in metrics:
        return "\n".join([*lines, "Nothing was flipped (mislabel.flip_fraction 0): nothing to find.", ""])
    rows = [{"name": "pixels", **metrics["pixels"]}, *[{"name": n, **m} for n, m in metrics["codes"].items()]]
    return "\n".join([*lines, markdown_table(rows, [
        ("name", "representation", "{}"), ("auroc", "AUROC", "{:.4f}"),
        ("precision_top", "precision, top-scored", "{:.4f}"), ("flag_precision", "majority flag: precision", "{:.4f}"),
        ("flag_recall", "recall", "{:.4f}"), ("retrieval_precision", f"same-digit precision@{metrics['k']}", "{:.4f}")]),
        "", "The last column counts true digits among the neighbours: a same-digit search.", ""])


def downstream_markdown(metrics: Mapping[str, Any]) -> str:
    """Accuracy and fit time of the same classifier on pixels and on each variant's codes."""
    pixel_seconds = metrics["pixels"]["fit_seconds"]
    rows = [{"name": "pixels", **metrics["pixels"]},
            *[{"name": n, **m, "speedup": pixel_seconds / m["fit_seconds"]} for n, m in metrics["codes"].items()]]
    return "\n".join([
        "# Downstream efficiency", "",
        f"The linear probe's classifier (standardised logistic regression) fitted on the same {metrics['n_train']:,} "
        f"training rows, scored on {metrics['n_test']:,} test images; fit time: the median of repeated fits, one "
        "BLAS thread, on the machine that ran the stage.", "",
        markdown_table(rows, [("name", "input", "{}"), ("features", "features", "{}"),
                              ("accuracy", "accuracy", "{:.4f}"), ("fit_seconds", "fit (s)", "{:.3f}"),
                              ("speedup", "faster than pixels", "{:.1f}x")]), ""])


def offdomain_markdown(metrics: Mapping[str, Any], photographs: Sequence[str], window: int) -> str:
    """Each variant's error on MNIST digits and on photograph patches, beside the patches' own PCA."""
    rows = [{"name": n, **m} for n, m in metrics["variants"].items()]
    return "\n".join([
        "# Off-domain reconstruction", "",
        f"{metrics['n_images']:,} MNIST test digits and as many 28x28 photograph patches ({window}x{window}-pixel "
        f"windows of scikit-image's bundled photographs, shrunk: {', '.join(photographs)}), reconstructed by each "
        "MNIST-trained variant. FVU: the fraction of variance unexplained (squared error over the squared deviation "
        "from the set's mean image; 1 is no better than the mean image). Own PCA: a PCA of the variant's code size "
        "fitted on other patches of the same photographs.", "",
        markdown_table(rows, [("name", "variant", "{}"), ("code_size", "code size", "{}"),
                              ("mse_mnist", "MSE digits", "{:.4f}"), ("mse_offdomain", "MSE photographs", "{:.4f}"),
                              ("fvu_mnist", "FVU digits", "{:.3f}"), ("fvu_offdomain", "FVU photographs", "{:.3f}"),
                              ("fvu_own_pca", "FVU photographs, own PCA", "{:.3f}"),
                              ("offdomain_ratio", "FVU ratio", "{:.1f}x")]), "",
        "Figure: `plots/offdomain/reconstructions.png`.", ""])

"""The report's sections on generation, likelihood, disentanglement and sparsity (reports/summary.md).

Each section is built from this run's metrics (metrics/analyze/<variant>.json)
and lists every variant that has the numbers, so a renamed or added variant
needs no code: VAEs are the variants with a test ELBO, plain autoencoders
those without. Verdicts over seeds belong to the ledger; these sections state
one run's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from latent_atlas.report.markdown import markdown_table

SOURCES = (("prior", "the prior N(0, I)"), ("gauss", "a Gaussian fitted to the training codes"),
           ("gmm", "a 10-component Gaussian mixture fitted to the training codes"), ("test", "real test images"))

# Burda et al. (2015), Table 1: one stochastic layer, 784-200-200-50, dynamically binarised MNIST.
BURDA_VAE_K1_NLL = 86.76
BURDA_EPOCHS = 3280


def likelihood_section(analyses: Mapping[str, dict[str, Any]]) -> list[str]:
    rows = [{"variant": name, **m, "active": f"{m['active_units']} of {m['latent_dim']}"}
            for name, m in analyses.items() if m.get("test_neg_elbo") is not None]
    if not rows:
        return []
    lines = ["## The VAE family: test likelihood", "",
             "Nats per test image, with the decoder's Bernoulli likelihood on [0,1] pixels. −ELBO uses one z "
             "sample per image (the test loss the PyTorch examples' VAE prints); the IWAE NLL is the "
             "importance-weighted bound of Burda et al. (2015) with k samples (`analyze.likelihood.iwae_k`), "
             "never above the −ELBO in expectation. A unit is active when its posterior mean varies over the "
             "test set (variance > `analyze.likelihood.active_threshold`, Burda et al.'s criterion).", "",
             markdown_table(rows, (("variant", "variant", "{}"), ("latent_dim", "latent", "{}"),
                                   ("test_neg_elbo", "−ELBO", "{:.2f}"), ("test_recon_bce", "recon BCE", "{:.2f}"),
                                   ("test_kl", "KL", "{:.2f}"), ("test_nll_iwae", "IWAE NLL", "{:.2f}"),
                                   ("iwae_k", "k", "{}"), ("active", "active units", "{}"))), ""]
    for row in rows:
        if row.get("posterior_collapse"):
            lines += [f"{row['variant']}: posterior collapse: 0 active units.", ""]
    lines += [f"Burda et al. (2015) report an NLL of {BURDA_VAE_K1_NLL} nats for a VAE (k = 1) with one stochastic "
              f"layer, 784-200-200-50, on dynamically binarised MNIST after {BURDA_EPOCHS} epochs. These VAEs "
              "differ in every respect (784-400-20 or convolutional, grey pixels, 10 epochs), so their nats are "
              "not comparable with that number; `bench/vae_burda.py` runs Burda et al.'s protocol.", ""]
    return lines


SAMPLE_SCORES = ("fid", "confidence", "class_entropy", "missing_classes")


def _sample_scores(analysis: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The judge's scores of one source's samples (the analyze stage's samples_<source>_<score>)."""
    return {score: analysis[f"samples_{source}_{score}"] for score in SAMPLE_SCORES}


def samples_section(analyses: Mapping[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name, m in analyses.items():
        for source, _ in SOURCES[:-1]:
            if m.get(f"samples_{source}_fid") is not None:
                rows.append({"variant": name, "source": source, **_sample_scores(m, source)})
    if not rows:
        return []
    floor = next((m for m in analyses.values() if m.get("samples_test_fid") is not None), None)
    if floor is not None:
        rows.append({"variant": "(real test images)", "source": "test", **_sample_scores(floor, "test")})
    n = next(iter(analyses.values())).get("samples_n")
    figures = []
    for name, m in analyses.items():
        grids = [f"[{source}](../plots/{name}/samples_{source}.png)" for source, _ in SOURCES[:-1]
                 if m.get(f"samples_{source}_fid") is not None]
        if grids:
            figures.append(f"| {name} | {', '.join(grids)} | [interpolations](../plots/{name}/interpolations.png) |")
    return ["## Samples: new images, judged by the fixed classifier", "",
            f"{n} decoded samples per variant and source: "
            + "; ".join(f"`{s}` {what}" for s, what in SOURCES)
            + " (the floor: what real digits score). FID is the Fréchet distance of the judge's penultimate "
            "features against as many test images (lower is closer to real digits); confidence is the judge's "
            "mean top probability; class entropy is that of the histogram of predicted digits in nats (ln 10 = "
            "2.303 when all ten are drawn equally); a class is missing when fewer than 1% of the samples are "
            "given it. Mode collapse shows as low entropy and missing classes.", "",
            markdown_table(rows, (("variant", "variant", "{}"), ("source", "source", "{}"),
                                  ("fid", "FID", "{:.2f}"), ("confidence", "confidence", "{:.3f}"),
                                  ("class_entropy", "class entropy", "{:.3f}"),
                                  ("missing_classes", "missing classes", "{}"))), "",
            "| variant | samples | latent interpolations |", "|---|---|---|", *figures, ""]


def disentanglement_section(analyses: Mapping[str, dict[str, Any]]) -> list[str]:
    rows = [{"variant": name, **m} for name, m in analyses.items() if m.get("mig") is not None]
    if not rows:
        return []
    return ["## Disentanglement: DCI, MIG and SAP", "",
            "Over the digit and the six morphometrics, as disentanglement_lib computes them. MIG: each code in "
            "20 equal-width bins (the morphometrics too), the mutual-information gap between a factor's two "
            "most informative codes over its entropy, averaged over factors. SAP: each code alone predicts each "
            "factor (a linear SVM's test accuracy for the digit, the squared correlation for a morphometric); "
            "the gap between the two best codes, averaged. Both are 1 when every factor lives in one code of "
            "its own.", "",
            markdown_table(rows, (("variant", "variant", "{}"), ("latent_dim", "latent", "{}"),
                                  ("dci_disentanglement", "D", "{:.3f}"), ("dci_completeness", "C", "{:.3f}"),
                                  ("dci_informativeness", "I", "{:.3f}"), ("mig", "MIG", "{:.4f}"),
                                  ("mig_digit", "MIG digit", "{:.4f}"), ("sap", "SAP", "{:.4f}"),
                                  ("sap_digit", "SAP digit", "{:.4f}"))), ""]


def sparsity_section(analyses: Mapping[str, dict[str, Any]]) -> list[str]:
    rows = [{"variant": name, **m} for name, m in analyses.items() if m.get("active_units_per_input") is not None]
    if not rows:
        return []
    threshold = rows[0].get("sparsity_threshold")
    return ["## Sparsity and selectivity of the code units", "",
            f"Units on per input: |z| above {threshold:g} times the code's root-mean-square "
            "(`analyze.sparsity.threshold`). Selectivity: the class selectivity index of Morcos et al. (2018) "
            "per unit, from its mean |activation| for each digit (1: it fires for one digit only), averaged "
            "over units.", "",
            markdown_table(rows, (("variant", "variant", "{}"), ("latent_dim", "latent", "{}"),
                                  ("active_units_per_input", "units on per input", "{:.2f}"),
                                  ("unit_selectivity", "mean selectivity", "{:.3f}"),
                                  ("test_mse", "test MSE", "{:.5f}"))), ""]


def generative_sections(analyses: Mapping[str, dict[str, Any]]) -> list[str]:
    return [*likelihood_section(analyses), *samples_section(analyses), *disentanglement_section(analyses),
            *sparsity_section(analyses)]

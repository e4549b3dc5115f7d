"""Study 001: a dense AE with train/validation curves, a t-SNE of its codes, and applications.

The applications: masking, downstream efficiency, denoising and anomaly
detection read issue 18's variants (roles denoising_ae, masked_ae) and
metrics files; generation and sparsity read issue 17's (roles vae, sparse_ae).
"""

from __future__ import annotations

import math

from latent_atlas.report.application_measures import USABLE_AUROC, Application, Codes
from latent_atlas.report.claims import Check, Claim, exact
from latent_atlas.report.curve_measures import CurveGap, CurveRise
from latent_atlas.report.measures import Diff, Judge, Metric, Ratio, RecipeMismatches
from latent_atlas.report.stats import above, below, near
from latent_atlas.report.sweep_measures import PCAOfSize

DENSE = "dense_ae"
VAE, SPARSE = "vae", "sparse_ae"
# Samples read as every digit about equally often: their class entropy above 90% of ln 10.
RECOGNISED_ENTROPY = 0.9 * math.log(10)
PLAIN, DENOISING, MASKED = "small_conv_ae", "denoising_ae", "masked_ae"
# "Improving efficiency" may cost at most this much test accuracy (2 points).
DOWNSTREAM_ACCURACY_MARGIN = 0.02


def psnr_gain(method: str, against: str, sigma: float) -> Diff:
    """PSNR of `method`'s output minus `against`'s at noise level sigma (metrics/denoise.json)."""
    return Diff(Application("denoise", (f"sigma_{sigma:g}", f"psnr_{method}")),
                Application("denoise", (f"sigma_{sigma:g}", f"psnr_{against}")))

CLAIMS = (
    Claim("C001-01", "qualitative", 'reconstruction training forces the network "to learn meaningful compressed '
                                    'representations"',
          (Check("vs_untrained", "linear probe: trained minus random-init encoder",
                 Diff(Metric(DENSE, "probe_linear_accuracy"), Metric(DENSE, "untrained_probe_linear_accuracy")),
                 above(0), fmt="{:+.4f}"),
           Check("knn_vs_untrained", "kNN probe: trained minus random-init encoder",
                 Diff(Metric(DENSE, "probe_knn_accuracy"), Metric(DENSE, "untrained_probe_knn_accuracy")),
                 fmt="{:+.4f}"),
           Check("vs_pca", "linear probe: dense AE minus PCA with 32 components",
                 Diff(Metric(DENSE, "probe_linear_accuracy"), PCAOfSize(DENSE, "probe_linear_accuracy")),
                 fmt="{:+.4f}"))),
    Claim("C001-02", "application", 'a VAE learns "a continuous representation of the input and generate[s] new data"',
          # New data: the judge recognises the prior's samples (mean top probability over one half) and reads
          # all ten digits in them about equally (class entropy over 90% of ln 10).
          (Check("confidence", "the judge's mean confidence on the VAE's prior samples", Metric(VAE, "samples_prior_confidence"),
                 above(0.5), fmt="{:.3f}"),
           Check("entropy", "entropy of the digits the judge reads in them, nats (ln 10 = 2.303)",
                 Metric(VAE, "samples_prior_class_entropy"), above(RECOGNISED_ENTROPY), fmt="{:.3f}"),
           Check("missing", "digits given to under 1% of them", Metric(VAE, "samples_prior_missing_classes"),
                 fmt="{:.1f}"),
           Check("fid", "FID of the prior samples against test images (real test images score samples_test_fid)",
                 Metric(VAE, "samples_prior_fid"), fmt="{:.1f}")),
          figure="{vae}/samples_prior.png"),
    Claim("C001-03", "application", 'Masked AE: "self-supervised learning … using autoencoder principle with '
                                    'masking patches"',
          # Learns features: its codes probe better than the plain AE's, at the same code size.
          (Check("probe", "linear probe: masked minus plain small conv AE",
                 Diff(Metric(MASKED, "probe_linear_accuracy"), Metric(PLAIN, "probe_linear_accuracy")), above(0),
                 fmt="{:+.4f}"),
           Check("knn", "kNN probe: masked minus plain small conv AE",
                 Diff(Metric(MASKED, "probe_knn_accuracy"), Metric(PLAIN, "probe_knn_accuracy")), fmt="{:+.4f}"),
           exact("code_size", "code size: masked minus plain", Diff(Metric(MASKED, "latent_dim"),
                                                                    Metric(PLAIN, "latent_dim")), 0))),
    Claim("C001-04", "application", 'Sparse AE "plays a crucial role in the field of interpretability research"',
          # Interpretable: fewer units on per input than the same 784-128-16 encoder and training without the
          # sparse code (the classifier AE), and units more selective for one digit than a plain unsupervised
          # AE's (the dense AE; the classifier AE's head makes its units digit-selective).
          (Check("sparser", "code units on per input: sparse AE minus classifier AE (same encoder and code size)",
                 Diff(Metric(SPARSE, "active_units_per_input"), Metric("classifier_ae", "active_units_per_input")),
                 below(0), fmt="{:+.2f}"),
           Check("selective", "mean class selectivity of the units: sparse AE minus dense AE",
                 Diff(Metric(SPARSE, "unit_selectivity"), Metric(DENSE, "unit_selectivity")), above(0), fmt="{:+.3f}"),
           Check("selective_vs_classifier", "the same against the classifier AE (supervised by its head)",
                 Diff(Metric(SPARSE, "unit_selectivity"), Metric("classifier_ae", "unit_selectivity")),
                 fmt="{:+.3f}"))),
    Claim("C001-05", "application", 'dimensionality reduction: "improving efficiency of downstream tasks"',
          # More efficient: the same classifier fits faster on the 32-d codes than on the 784 pixels,
          # losing at most DOWNSTREAM_ACCURACY_MARGIN of accuracy.
          (Check("faster", "fit time on pixels / on the dense codes (> 1: the codes are faster)",
                 Ratio(Application("downstream", ("pixels", "fit_seconds")), Codes(DENSE, "downstream", "fit_seconds")),
                 above(1), fmt="{:.2f}"),
           Check("accuracy", "test accuracy: dense codes minus pixels",
                 Codes(DENSE, "downstream", "accuracy_vs_pixels"), above(-DOWNSTREAM_ACCURACY_MARGIN), fmt="{:+.4f}")),
          note="fit times are wall-clock in each run's downstream stage (one BLAS thread)"),
    Claim("C001-06", "application", 'feature learning: features "used in other downstream … tasks such as '
                                    'classification and regression"',
          # Usable: a linear probe reads the digit at 90%; R^2 of the stroke measures shown beside it.
          (Check("probe", "linear-probe digit accuracy of the dense codes", Metric(DENSE, "probe_linear_accuracy"),
                 above(0.9)),
           Check("thickness", "held-out R^2 of stroke thickness from the codes (DCI)",
                 Metric(DENSE, "dci_informativeness_thickness"), fmt="{:.3f}"),
           Check("slant", "held-out R^2 of slant from the codes (DCI)", Metric(DENSE, "dci_informativeness_slant"),
                 fmt="{:.3f}")),
          figure="{dense_ae}/dci_importance.png"),
    Claim("C001-07", "application", '"Image denoising: … reconstruct clean image from noisy input effectively"',
          # Effectively: at the noise it was trained for (σ 0.3) its output is closer to the clean image
          # than the noisy input is, and than the plain AE's. Beside it: the README's target against
          # non-local means at σ 0.1, 0.3 and 0.5, and Vincent et al.'s better features (verdicts of their own).
          (Check("vs_input", "PSNR at σ 0.3: denoising AE minus the noisy input (dB)",
                 psnr_gain("denoising_ae", "input", 0.3), above(0), fmt="{:+.2f}"),
           Check("vs_plain", "PSNR at σ 0.3: denoising AE minus the plain small conv AE (dB)",
                 psnr_gain("denoising_ae", "small_conv_ae", 0.3), above(0), fmt="{:+.2f}"),
           *[Check(f"vs_nlm_{sigma:g}", f"PSNR at σ {sigma:g}: denoising AE minus non-local means (dB)",
                   psnr_gain("denoising_ae", "nlm", sigma), above(0), decides=False, fmt="{:+.2f}")
             for sigma in (0.1, 0.3, 0.5)],
           Check("features", "linear probe: denoising minus plain small conv AE (Vincent et al. 2008)",
                 Diff(Metric(DENOISING, "probe_linear_accuracy"), Metric(PLAIN, "probe_linear_accuracy")),
                 above(0), decides=False, fmt="{:+.4f}"),
           Check("judge", "the fixed judge's accuracy on the denoising AE's outputs at σ 0.3",
                 Application("denoise", ("sigma_0.3", "judge_accuracy_denoising_ae")), fmt="{:.4f}")),
          figure="denoise/psnr.png"),
    Claim("C001-08", "application", '"Anomaly detection: … they can flag these anomalies … fraud detection"',
          # Can flag: the reconstruction error ranks a usable share of anomaly-normal pairs right, one-class MNIST.
          (Check("recon", "mean AUROC of the reconstruction error over the normal digits (one-class protocol)",
                 Application("anomaly", ("mean_auroc_recon",)), above(USABLE_AUROC), fmt="{:.4f}"),
           Check("pixels", "the same with the kNN distance in pixels (no model)",
                 Application("anomaly", ("mean_auroc_pixel_knn",)), fmt="{:.4f}")),
          figure="anomaly/roc_recon.png", note="published one-class Deep SVDD: 0.948 (Ruff et al. 2018)"),
    Claim("C001-09", "qualitative", 'train and validation loss curves show "the model is learning effectively"',
          # Close: the final validation loss within 10% of the training loss.
          (Check("train_falls", "largest epoch-over-epoch change of the training loss (< 0: falls every epoch)",
                 CurveRise(DENSE, "train_loss"), below(0), fmt="{:+.2e}"),
           Check("val_falls", "largest epoch-over-epoch change of the validation loss",
                 CurveRise(DENSE, "val_loss"), below(0), fmt="{:+.2e}"),
           Check("gap", "(final val - train loss) / val loss", CurveGap(DENSE), near(0, 0.1), fmt="{:+.3f}")),
          figure="{dense_ae}/loss.png"),
    Claim("C001-10", "qualitative", 'originals vs reconstructions show "how well the autoencoder has learned to '
                                    'compress and reconstruct"',
          # Well: the judge recognizes reconstructions at 95% of its accuracy on the originals.
          (Check("recognized", "judge accuracy on reconstructions / on originals",
                 Ratio(Metric(DENSE, "recon_judge_accuracy"), Judge("test_accuracy")), above(0.95), fmt="{:.4f}"),
           Check("mse", "test MSE of the dense AE (z=32)", Metric(DENSE, "test_mse"), fmt="{:.5f}")),
          figure="{dense_ae}/reconstructions.png"),
    Claim("C001-11", "qualitative", 't-SNE: codes "quite well separated … even with a simple autoencoder '
                                    'architecture with quick training"',
          # Well separated: 90% of test codes take their digit from their t-SNE neighbours.
          (Check("tsne_knn", "kNN accuracy inside the t-SNE of the test codes", Metric(DENSE, "view_knn_tsne"),
                 above(0.9)),
           Check("silhouette", "silhouette of the digits in the t-SNE", Metric(DENSE, "tsne_silhouette"),
                 fmt="{:.3f}")),
          figure="{dense_ae}/latent_tsne.png", note="no t-SNE of raw pixels is run for comparison (its cost)"),
    Claim("C001-12", "recipe", "dense AE: 784-128-32, 32-128-784 Sigmoid; MSE; Adam lr 1e-3; batch 256; "
                               "20 epochs; random 80/20 validation split; t-SNE of the test codes",
          (exact("n_params", "parameters", Metric(DENSE, "n_params"), 209_968),
           exact("recipe", "settings other than the recipe's",
                 RecipeMismatches(DENSE, (("hidden", [128]), ("latent_dim", 32), ("output", "sigmoid"),
                                          ("input_range", "unit"), ("optimizer", "adam"), ("lr", 1e-3),
                                          ("epochs", 20), ("batch_size", 256), ("val_fraction", 0.2))), 0))),
)

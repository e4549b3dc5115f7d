"""Study 002: a vanilla AE swept over z=2..50, a spatial conv AE, t-SNE, cluster geometry, applications.

The study's "3D latent" model is the sweep's member at z=3; its "validation"
set is the MNIST test split, so its train/validation comparisons read our
train/test numbers. Two claims need a different recipe, run as DVC
experiments beside the default runs (README, "Recipe experiments").
"""

from __future__ import annotations

from latent_atlas.report.application_measures import (
    DEEP_SVDD_MEAN_AUROC,
    USABLE_AUROC,
    Application,
    Codes,
    EachModel,
)
from latent_atlas.report.claims import Check, Claim, Experiment, exact
from latent_atlas.report.curve_measures import CurveRise, DropGrowth, EarlyShare, EpochsToReach
from latent_atlas.report.digit_measures import DigitGap, PairGap
from latent_atlas.report.measures import (
    At,
    Baseline,
    ConvChain,
    Diff,
    Judge,
    LinearParams,
    Metric,
    Ratio,
    RecipeMismatches,
    ShapesMatch,
    Smallest,
)
from latent_atlas.report.stats import above, below, near
from latent_atlas.report.sweep_measures import Across, PCAOfSize, Sweep, SweepVsPCA, SweepWorst

SWEEP, CONV = "vanilla_sweep", "spatial_conv_ae"
# Compression ratios are stated to a tenth of a percent.
PERCENT_TENTH = 0.0005


def vanilla(key: str, z: int = 3) -> Metric:
    return Metric(SWEEP, key, z=z)


def conv_minus_vanilla(key: str, z: int = 3) -> Diff:
    return Diff(Metric(CONV, key), vanilla(key, z))


INPUT_RANGE = Experiment((("recipes.vanilla.input_range", "unit"), ("recipes.vanilla.output", "sigmoid")))
NO_WEIGHT_DECAY = Experiment((("recipes.vanilla.weight_decay", 0.0),))

CLAIMS = (
    Claim("C002-01", "application", '"Unlike traditional methods like PCA, autoencoders can capture non-linear '
                                    'relationships"',
          (Check("sweep", "worst size: AE - PCA test MSE (< 0: the AE wins at every z)",
                 SweepVsPCA(SWEEP, "test_mse"), below(0), fmt="{:+.5f}"),),
          figure="summary/mse_vs_latent.png"),
    Claim("C002-02", "application", 'feature learning: codes "used for other tasks like classification or clustering"',
          (Check("probe", "worst size: AE - PCA linear-probe accuracy (> 0: the AE wins at every z)",
                 SweepVsPCA(SWEEP, "probe_linear_accuracy", worst="min"), above(0), fmt="{:+.4f}"),
           Check("nmi", "worst size: AE - PCA k-means NMI", SweepVsPCA(SWEEP, "nmi", worst="min"), above(0),
                 fmt="{:+.4f}"))),
    Claim("C002-03", "application", 'data compression: "a learned compression scheme tailored to specific types of '
                                    'data"',
          # Tailored: at every size of the sweep the code serves digits better than photographs, and worse
          # than a PCA of the same size fitted on the photographs themselves.
          (Check("ratio", "smallest over the vanilla sweep of FVU on photograph patches / FVU on MNIST digits",
                 SweepWorst(SWEEP, EachModel(None, "offdomain", "offdomain_ratio")), above(1), fmt="{:.2f}"),
           Check("own_pca", "smallest over the sweep of FVU on the patches minus their own PCA's of the same size",
                 SweepWorst(SWEEP, EachModel(None, "offdomain", "offdomain_excess")), above(0), fmt="{:+.3f}")),
          figure="offdomain/reconstructions.png",
          note="off-domain: 28x28 patches of scikit-image's bundled photographs (no other dataset ships offline); "
               "FVU: fraction of variance unexplained"),
    Claim("C002-04", "application", 'anomaly detection: AEs "struggle with unusual patterns, making them excellent '
                                    'for detecting outliers"',
          # Excellent: at least the published one-class Deep SVDD's mean AUROC on MNIST.
          (Check("recon", "mean AUROC of a conv AE's reconstruction error, one-class MNIST (Deep SVDD: 0.948)",
                 Application("anomaly", ("mean_auroc_recon",)), above(DEEP_SVDD_MEAN_AUROC), fmt="{:.4f}"),
           Check("vs_pixels", "the same minus the kNN distance in pixels (> 0: the AE beats no model)",
                 Diff(Application("anomaly", ("mean_auroc_recon",)), Application("anomaly", ("mean_auroc_pixel_knn",))),
                 fmt="{:+.4f}"),
           Check("other_kind", "AUROC of the small conv AE's reconstruction error: photograph patches against "
                 "MNIST digits", EachModel("small_conv_ae", "offdomain", "offdomain_auroc"), fmt="{:.4f}")),
          figure="anomaly/roc_recon.png"),
    Claim("C002-05", "qualitative", 'a bottleneck that is "Too small" captures too little, "leading to blurry '
                                    'reconstructions"',
          (Check("mse", "latent size with the sweep's largest test MSE", Sweep(SWEEP, "test_mse", "argmax"),
                 near(2, 0), fmt="{:.1f}"),
           Check("sharpness", "latent size with the sweep's lowest sharpness", Sweep(SWEEP, "recon_sharpness", "argmin"),
                 near(2, 0), fmt="{:.1f}")),
          figure="summary/sweep_grid.png"),
    Claim("C002-06", "qualitative", '"Too large: The network might just memorize the data without learning '
                                    'meaningful patterns"',
          (Check("gap", "Spearman of the train-test MSE gap with z over the sweep (> 0: grows with z)",
                 Sweep(SWEEP, "generalization_gap", "spearman"), above(0), fmt="{:+.3f}"),
           Check("probe", "linear probe: z=50 minus z=10", Diff(vanilla("probe_linear_accuracy", 50),
                                                                 vanilla("probe_linear_accuracy", 10)),
                 fmt="{:+.4f}"))),
    Claim("C002-07", "qualitative", 'going from z=2 to 50, reconstructions "became progressively clearer and more '
                                    'detailed"',
          (Check("mse", "largest step of test MSE from one size to the next (< 0: falls at every step)",
                 Sweep(SWEEP, "test_mse", "max_step"), below(0), fmt="{:+.5f}"),
           Check("sharpness", "smallest step of sharpness (> 0: rises at every step)",
                 Sweep(SWEEP, "recon_sharpness", "min_step"), above(0), fmt="{:+.4f}")),
          figure="summary/sweep_grid.png"),
    Claim("C002-08", "qualitative", 'flattening "loses the spatial relationships that make images meaningful"',
          (Check("mse", "test MSE at z=10: vanilla MLP minus small conv (> 0: conv better)",
                 Diff(vanilla("test_mse", 10), Metric("small_conv_ae", "test_mse")), above(0), fmt="{:+.5f}"),),
          figure="summary/mse_vs_latent.png",
          note="the two recipes differ in epochs and batch; the permuted-pixel retraining is not run"),
    Claim("C002-09", "qualitative", 'conv "Parameter Efficiency: … fewer parameters … reducing overfitting risk"',
          (exact("fewer", "parameters: vanilla z=3 minus conv (218,643 - 50,161)",
                 Diff(vanilla("n_params"), Metric(CONV, "n_params")), 168_482),
           Check("gap", "train-test MSE gap: vanilla z=3 minus conv (> 0: conv overfits less)",
                 Diff(vanilla("generalization_gap"), Metric(CONV, "generalization_gap")), above(0),
                 fmt="{:+.2e}"))),
    Claim("C002-10", "qualitative", '"Translation Invariance: … recognize patterns regardless of their position"',
          (Check("code_shift", "code distance of 2-px shifted digits / spread: vanilla z=3 minus conv",
                 Diff(At(SWEEP, "shift_code_distance_rel", "shift_pixels", 2, z=3),
                      At(CONV, "shift_code_distance_rel", "shift_pixels", 2)), above(0), fmt="{:+.4f}"),
           Check("knn", "kNN accuracy of 2-px shifted codes: conv minus vanilla z=3",
                 Diff(At(CONV, "shift_knn_accuracy", "shift_pixels", 2),
                      At(SWEEP, "shift_knn_accuracy", "shift_pixels", 2, z=3)), above(0), fmt="{:+.4f}"))),
    Claim("C002-11", "recipe", '"typical progression … 28×28×1 → 14×14×32 → 7×7×64 → 4×4×128" (not built in '
                               'the study)',
          (exact("sizes", "Conv2d(k=3, s=2, p=1) maps 28 -> 14 -> 7 -> 4", ConvChain((28, 14, 7, 4), 3, 2, 1), 1),),
          note="shape arithmetic only: the study did not build or train this network"),
    Claim("C002-12", "qualitative", 't-SNE: "similar images naturally clustered together. Images of the same digit '
                                    'formed distinct groups"',
          # Distinct groups: 80% of codes take their digit from their t-SNE neighbours.
          (Check("tsne_knn", "kNN accuracy inside the t-SNE, vanilla z=3", vanilla("view_knn_tsne"), above(0.8)),
           Check("silhouette", "silhouette of the digits in that t-SNE", vanilla("tsne_silhouette"), fmt="{:.3f}")),
          figure="{vanilla_sweep}/latent_tsne.png"),
    Claim("C002-13", "qualitative", '"Similar images have similar encoded representations"; "The latent space has '
                                    'semantic meaning"',
          (Check("z3", "same-digit precision@10 of neighbours: codes (vanilla z=3) minus pixels",
                 Diff(vanilla("precision_at_10"), Baseline(("pixel_precision_at_10",))), above(0), fmt="{:+.4f}"),
           Check("conv", "the same for the conv codes", Diff(Metric(CONV, "precision_at_10"),
                                                            Baseline(("pixel_precision_at_10",))), fmt="{:+.4f}"))),
    Claim("C002-14", "qualitative", '"Quality vs. Compression Trade-off: Smaller bottlenecks mean … lower quality '
                                    'reconstructions"',
          (Check("mse", "largest step of test MSE over the sweep (< 0: falls at every step)",
                 Sweep(SWEEP, "test_mse", "max_step"), below(0), fmt="{:+.5f}"),
           Check("judge", "Spearman of the judge's accuracy on reconstructions with z", Sweep(
               SWEEP, "recon_judge_accuracy", "spearman"), above(0.7), fmt="{:+.3f}")),
          figure="summary/sweep_grid.png"),
    Claim("C002-15", "qualitative", '"Basic autoencoders aren\'t great at generating entirely new content"',
          # The study's basic AE (vanilla, z=10) decoding a Gaussian fitted to its codes against a VAE decoding
          # its prior: less confident judge, farther from real digits.
          (Check("confidence", "judge confidence: vanilla z=10's Gaussian samples minus the VAE's prior samples",
                 Diff(vanilla("samples_gauss_confidence", z=10), Metric("vae", "samples_prior_confidence")), below(0),
                 fmt="{:+.3f}"),
           Check("fid", "FID: vanilla z=10's Gaussian samples minus the VAE's prior samples (> 0: farther from real)",
                 Diff(vanilla("samples_gauss_fid", z=10), Metric("vae", "samples_prior_fid")), above(0),
                 fmt="{:+.1f}"),
           Check("mixture", "the same with a 10-component mixture on the codes (Ghosh et al. 2020)",
                 Diff(vanilla("samples_gmm_fid", z=10), Metric("vae", "samples_prior_fid")), fmt="{:+.1f}"),
           Check("classifier_ae", "FID: the classifier AE's mixture samples minus the VAE's prior samples",
                 Diff(Metric("classifier_ae", "samples_gmm_fid"), Metric("vae", "samples_prior_fid")), fmt="{:+.1f}")),
          figure="{vae}/samples_prior.png"),
    Claim("C002-16", "qualitative", '"Mode Collapse: Sometimes the network learns to ignore certain types of input '
                                    'variations"',
          # Ignored: an attribute the codes explain less than half of (held-out R^2 < 0.5).
          (Check("r2", "the smaller held-out R^2 of thickness and slant from the z=3 codes",
                 Smallest((vanilla("dci_informativeness_thickness"), vanilla("dci_informativeness_slant"))),
                 below(0.5), fmt="{:.3f}"),
           Check("dead", "dead dims of vanilla z=3 (traversal effect under the declared fraction)",
                 vanilla("dead_dims"), fmt="{:.1f}"),
           # Mode collapse in what it generates: digits missing from samples of its codes' mixture.
           Check("sample_missing", "digits the judge gives to under 1% of vanilla z=3's mixture samples",
                 vanilla("samples_gmm_missing_classes"), fmt="{:.1f}"),
           Check("sample_entropy", "entropy of the digits read in them, nats (ln 10 = 2.303)",
                 vanilla("samples_gmm_class_entropy"), fmt="{:.3f}"))),
    Claim("C002-17", "qualitative", 'normalizing to [-1,1] "often leads to better training stability"',
          (Check("mse", "test MSE ([0,1] units), vanilla z=3: [0,1]+Sigmoid run minus [-1,1]+Tanh run",
                 vanilla("test_mse"), above(0), fmt="{:+.5f}", experiment=INPUT_RANGE),
           Check("rises", "largest epoch-over-epoch change of the train loss: [0,1] run minus [-1,1] run",
                 CurveRise(SWEEP, "train_loss", z=3), fmt="{:+.2e}", experiment=INPUT_RANGE)),
          note="losses differ in units between the two runs (x4); test MSE is in [0,1] units in both"),
    Claim("C002-18", "number", "layer parameters: Linear 2-1 100,480; 2-3 8,256; 2-6 256; 2-8 8,320; 2-10 101,136",
          tuple(exact(f"layer_{layer + 1}", f"Linear layer {layer + 1} of vanilla z=3",
                      LinearParams(SWEEP, (layer,), z=3), count)
                for layer, count in ((0, 100_480), (1, 8_256), (3, 256), (4, 8_320), (5, 101_136)))),
    Claim("C002-19", "number", 'vanilla z=3: "Total params: 218,643"',
          (exact("n_params", "parameters of vanilla z=3", vanilla("n_params"), 218_643),)),
    Claim("C002-20", "number", '"Bottleneck layer (Linear: 2-5): Only 195 parameters"',
          (exact("bottleneck", "the 64 -> 3 Linear layer", LinearParams(SWEEP, (2,), z=3), 195),)),
    Claim("C002-21", "qualitative", '"Most parameters: In layers connecting to/from the flattened image"',
          (Check("share", "share of the parameters in the two 784-facing layers (study: 92%)",
                 LinearParams(SWEEP, (0, 5), share=True, z=3), above(0.5), exact=True, fmt="{:.4f}"),)),
    Claim("C002-22", "qualitative", 'vanilla z=3: "Both training and validation losses decreased smoothly"',
          (Check("falls", "largest epoch-over-epoch change of the training loss (< 0: falls every epoch)",
                 CurveRise(SWEEP, "train_loss", z=3), below(0), fmt="{:+.2e}"),),
          figure="{vanilla_sweep}/loss.png", note="the recipe holds out no validation set (the study's was the test split)"),
    Claim("C002-23", "qualitative", '"No Overfitting: Training and validation losses stayed close together"',
          (Check("gap", "(test - train MSE) / test MSE, vanilla z=3 (within 5%)", vanilla("generalization_gap_rel"),
                 near(0, 0.05), fmt="{:+.4f}"),),
          figure="{vanilla_sweep}/loss.png"),
    Claim("C002-24", "qualitative", '"Quick Convergence: Major improvements in first few epochs, then diminishing '
                                    'returns"',
          (Check("first_epoch", "share of the loss drop reached after epoch 1 of 5", EarlyShare(SWEEP, 1, z=3),
                 above(0.5), fmt="{:.3f}"),
           Check("diminishing", "largest growth of the per-epoch drop (< 0: every epoch gains less)",
                 DropGrowth(SWEEP, z=3), below(0), fmt="{:+.2e}")),
          figure="{vanilla_sweep}/loss.png"),
    Claim("C002-25", "qualitative", 'z=3: "Recognizable" but "Blurry"; "lossy compression"',
          # Recognizable: the judge reads over half of the reconstructions (chance is 10%).
          (Check("judge", "judge accuracy on z=3 reconstructions", vanilla("recon_judge_accuracy"), above(0.5)),
           Check("sharpness", "sharpness of z=3 reconstructions (1: as sharp as the originals)",
                 vanilla("recon_sharpness"), below(1))),
          figure="summary/sweep_grid.png"),
    Claim("C002-26", "qualitative", '"Latent dim 2: Barely recognizable digit shapes, extreme blur"',
          (Check("judge", "judge accuracy on reconstructions: z=5 minus z=2",
                 Diff(vanilla("recon_judge_accuracy", 5), vanilla("recon_judge_accuracy", 2)), above(0),
                 fmt="{:+.4f}"),
           Check("sharpness", "latent size with the sweep's lowest sharpness", Sweep(SWEEP, "recon_sharpness", "argmin"),
                 near(2, 0), fmt="{:.1f}"),
           Check("z2", "judge accuracy on z=2 reconstructions", vanilla("recon_judge_accuracy", 2))),
          figure="summary/sweep_grid.png"),
    Claim("C002-27", "qualitative", '"Latent dim 5: Clearer shapes, better digit recognition"',
          (Check("5_vs_3", "judge accuracy on reconstructions: z=5 minus z=3",
                 Diff(vanilla("recon_judge_accuracy", 5), vanilla("recon_judge_accuracy", 3)), above(0), fmt="{:+.4f}"),
           Check("3_vs_2", "judge accuracy on reconstructions: z=3 minus z=2",
                 Diff(vanilla("recon_judge_accuracy", 3), vanilla("recon_judge_accuracy", 2)), above(0),
                 fmt="{:+.4f}")),
          figure="summary/sweep_grid.png"),
    Claim("C002-28", "number", '"Latent dim 10: Good balance of compression (98.7% reduction) and quality"',
          (exact("ratio", "1 - 10/784", vanilla("compression_ratio", 10), 0.987, fmt="{:.4f}", tolerance=PERCENT_TENTH),
           Check("knee", "knee of test MSE against log z (the size farthest below the chord)",
                 Sweep(SWEEP, "test_mse", "knee"), near(10, 0), fmt="{:.1f}")),
          figure="summary/mse_vs_latent.png"),
    Claim("C002-29", "number", '"Latent dim 50: Very clear reconstructions, but less impressive compression (93.6% '
                               'reduction)"',
          (exact("ratio", "1 - 50/784", vanilla("compression_ratio", 50), 0.936, fmt="{:.4f}", tolerance=PERCENT_TENTH),
           Check("judge", "judge accuracy on z=50 reconstructions / on originals (within 2%)",
                 Ratio(vanilla("recon_judge_accuracy", 50), Judge("test_accuracy")), near(1, 0.02), fmt="{:.4f}")),
          figure="summary/sweep_grid.png"),
    Claim("C002-30", "number", '"3D latent: 784 → 3 (99.6% compression!)"',
          (exact("ratio", "1 - 3/784", vanilla("compression_ratio"), 0.996, fmt="{:.4f}", tolerance=PERCENT_TENTH),)),
    Claim("C002-31", "recipe", 'conv shapes: encoder "28×28×1 → 10×10×32 → 5×5×32 → 3×3×64 → 2×2×64"; decoder '
                               '"2×2×64 → 5×5×32 → 15×15×16 → 28×28×1"',
          (exact("shapes", "layer output shapes of the conv AE as stated",
                 ShapesMatch(CONV, ((32, 10, 10), (32, 5, 5), (64, 3, 3), (64, 2, 2),
                                    (32, 5, 5), (16, 15, 15), (1, 28, 28))), 1),)),
    Claim("C002-32", "number", 'conv AE: "Total parameters: 50,161 (much fewer than vanilla!)"',
          (exact("n_params", "parameters of the conv AE", Metric(CONV, "n_params"), 50_161),)),
    Claim("C002-33", "qualitative", 'conv AE: "Fewer parameters but better performance due to spatial awareness"',
          (Check("mse", "test MSE ([0,1] units): vanilla z=3 minus conv (> 0: conv better)",
                 Diff(vanilla("test_mse"), Metric(CONV, "test_mse")), above(0), fmt="{:+.5f}"),),
          figure="{spatial_conv_ae}/reconstructions.png"),
    Claim("C002-34", "qualitative", '"Vanilla (3D): Blurry, recognizable but lacking detail"; "Convolutional: Sharp, '
                                    'clear reconstructions"',
          (Check("sharpness", "sharpness: conv minus vanilla z=3", conv_minus_vanilla("recon_sharpness"), above(0),
                 fmt="{:+.4f}"),
           Check("judge", "judge accuracy on reconstructions: conv minus vanilla z=3",
                 conv_minus_vanilla("recon_judge_accuracy"), above(0), fmt="{:+.4f}")),
          figure="{spatial_conv_ae}/reconstructions.png"),
    Claim("C002-35", "qualitative", 'conv t-SNE: "distinct clusters of colors! … similar digits are grouped together '
                                    'spatially"',
          (Check("tsne_knn", "kNN accuracy inside the t-SNE of the conv codes", Metric(CONV, "view_knn_tsne"),
                 above(0.8)),
           Check("purity", "k-means purity of the conv codes", Metric(CONV, "purity_best"))),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-36", "qualitative", '"NEVER told what digit each image contained … Yet it learned to group similar '
                                    'digits"',
          (Check("vs_shuffled", "k-means purity of the conv codes minus that against shuffled labels",
                 Diff(Metric(CONV, "purity_best"), Metric(CONV, "purity_shuffled")), above(0), fmt="{:+.4f}"),
           Check("vs_pixels", "purity: conv codes minus PCA-50 of the pixels",
                 Diff(Metric(CONV, "purity_best"), Baseline(("pca", "k50", "purity_best"))), fmt="{:+.4f}"),
           Check("nmi", "NMI of the conv codes' clusters", Metric(CONV, "nmi"))),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-37", "qualitative", '"Tight clusters: Digits that are very consistent (like \'1\' …)"',
          (Check("spread", "spread of digit 1 (standardized conv codes) minus the median digit",
                 DigitGap(CONV, "class_spread", (1,)), below(0), fmt="{:+.4f}"),),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-38", "qualitative", '"Spread clusters: Digits with more variation (like \'2\' - many ways to write '
                                    'it)"',
          (Check("spread", "spread of digit 2 minus the median digit", DigitGap(CONV, "class_spread", (2,)), above(0),
                 fmt="{:+.4f}"),),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-39", "qualitative", '"Nearby clusters: Digits that share visual features (like \'6\' and \'9\' …)"',
          (Check("distance", "6-9 centroid distance minus the median of the 45 pairs",
                 PairGap(CONV, "centroid_distance", 6, 9), below(0), fmt="{:+.4f}"),),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-40", "qualitative", '"Distant clusters: Very different digits (like \'1\' and \'8\' …)"',
          (Check("distance", "1-8 centroid distance minus the median of the 45 pairs",
                 PairGap(CONV, "centroid_distance", 1, 8), above(0), fmt="{:+.4f}"),
           Check("vs_6_9", "1-8 minus 6-9 centroid distance", Diff(PairGap(CONV, "centroid_distance", 1, 8),
                                                                   PairGap(CONV, "centroid_distance", 6, 9)),
                 fmt="{:+.4f}")),
          figure="{spatial_conv_ae}/latent_tsne.png"),
    Claim("C002-41", "qualitative", 't-SNE "Proves the autoencoder learned meaningful patterns, not just memorization"',
          # Not memorized: the probe's training accuracy within 2 points of its test accuracy.
          (Check("probe", "linear probe on the conv codes: train minus test accuracy",
                 Diff(Metric(CONV, "probe_linear_train_accuracy"), Metric(CONV, "probe_linear_accuracy")),
                 near(0, 0.02), fmt="{:+.4f}"),
           Check("mse", "(test - train MSE) / test MSE of the conv AE", Metric(CONV, "generalization_gap_rel"),
                 fmt="{:+.4f}"))),
    Claim("C002-42", "qualitative", '"Tight, well-separated clusters indicate high-quality learned features"',
          (Check("spearman", "Spearman across variants of k-means purity with linear-probe accuracy",
                 Across(Metric(None, "purity_best"), Metric(None, "probe_linear_accuracy")), above(0),
                 fmt="{:+.3f}"),)),
    Claim("C002-43", "application", '"Anomaly Detection: Points far from any cluster might be anomalies"',
          # Far from the normal digit's codes = anomalous, ranked right for 9 in 10 anomaly-normal pairs.
          (Check("code_knn", "mean AUROC of the distance to the 5 nearest training codes, one-class MNIST",
                 Application("anomaly", ("mean_auroc_code_knn",)), above(USABLE_AUROC), fmt="{:.4f}"),),
          figure="anomaly/roc_code_knn.png",
          note="the one-class conv AE's codes, and the distance to the nearest training codes rather than to "
               "k-means centroids"),
    Claim("C002-44", "application", '"Quality Control: Identify mislabeled data (points in the wrong cluster)"',
          # Identifies them: the neighbours' disagreement ranks the 5% flipped labels above the kept ones
          # for 9 in 10 pairs; the kNN-majority flag's precision and recall, and pixels, beside it.
          (Check("auroc", "AUROC of the neighbours' disagreement, conv codes, 5% of labels flipped",
                 Codes(CONV, "mislabel", "auroc"), above(USABLE_AUROC), fmt="{:.4f}"),
           Check("flag_precision", "precision of flagging the kNN-majority disagreements",
                 Codes(CONV, "mislabel", "flag_precision"), fmt="{:.4f}"),
           Check("flag_recall", "recall of that flag", Codes(CONV, "mislabel", "flag_recall"), fmt="{:.4f}"),
           Check("vs_pixels", "AUROC: conv codes minus pixels",
                 Diff(Codes(CONV, "mislabel", "auroc"), Application("mislabel", ("pixels", "auroc"))),
                 fmt="{:+.4f}"))),
    Claim("C002-45", "qualitative", 'comparison table, "Training Speed": vanilla "Slower", conv "Faster"',
          (Check("seconds", "seconds per epoch, same machine and batch: vanilla z=3 minus conv (> 0: conv faster)",
                 Diff(vanilla("seconds_per_epoch"), Metric(CONV, "seconds_per_epoch")), above(0), fmt="{:+.3f}"),
           Check("epochs", "epochs to reach the slower one's final loss: vanilla z=3 minus conv",
                 EpochsToReach(Metric(SWEEP, "test_mse", z=3), Metric(CONV, "test_mse")), fmt="{:+.1f}")),
          note="timings are wall-clock in each run's train stage: parallel queue workers add noise"),
    Claim("C002-46", "number", 'comparison table, "Compression Ratio": "99.6%" (vanilla z=3) vs "67.3%" (conv)',
          (exact("vanilla", "1 - 3/784", vanilla("compression_ratio"), 0.996, fmt="{:.4f}", tolerance=PERCENT_TENTH),
           exact("conv", "1 - 256/784", Metric(CONV, "compression_ratio"), 0.673, fmt="{:.4f}",
                 tolerance=PERCENT_TENTH))),
    Claim("C002-47", "qualitative", '"Just right: The network learns compact, meaningful representations"',
          (Check("purity", "k-means purity peaks inside the sweep (1) rather than at its ends (0)",
                 Sweep(SWEEP, "purity_best", "interior_peak"), above(0.5), fmt="{:.2f}"),
           Check("probe", "latent size where the linear probe peaks", Sweep(SWEEP, "probe_linear_accuracy", "argmax"),
                 fmt="{:.1f}"))),
    Claim("C002-48", "qualitative", 'AdamW weight decay "prevents overfitting"',
          (Check("gap", "train-test MSE gap of vanilla z=3: weight decay 0 run minus 1e-5 run (> 0: decay helps)",
                 vanilla("generalization_gap"), above(0), fmt="{:+.2e}", experiment=NO_WEIGHT_DECAY),),
          note="at lr 1e-3 AdamW's decoupled decay multiplies each weight by 1 - 1e-8, which is 1 in float32: "
               "the decay changes no weight, in the study's PyTorch as here"),
    Claim("C002-49", "application", '"We can navigate the space to find related content"',
          (Check("retrieval", "same-digit precision@10: conv codes minus pixels",
                 Diff(Metric(CONV, "precision_at_10"), Baseline(("pixel_precision_at_10",))), above(0),
                 fmt="{:+.4f}"),)),
    Claim("C002-50", "application", '"Data Organization: Automatically group similar items without labels"',
          (Check("vs_pca", "k-means NMI: vanilla z=10 minus PCA with 10 components",
                 Diff(vanilla("nmi", 10), PCAOfSize(SWEEP, "nmi", z=10)), above(0), fmt="{:+.4f}"),
           Check("vs_pixels", "k-means NMI: vanilla z=10 minus PCA-50 of the pixels",
                 Diff(vanilla("nmi", 10), Baseline(("pca", "k50", "nmi"))), fmt="{:+.4f}"))),
    Claim("C002-51", "qualitative", '"Debugging Tool: If clusters look random, something\'s wrong with your model"',
          # Clearly worse: 5 points of kNN accuracy.
          (Check("knn", "kNN accuracy of the conv codes: trained minus random-init encoder",
                 Diff(Metric(CONV, "probe_knn_accuracy"), Metric(CONV, "untrained_probe_knn_accuracy")),
                 above(0.05), fmt="{:+.4f}"),),
          note="kNN in code space, not in a t-SNE of the untrained codes (no second t-SNE is run)"),
    Claim("C002-52", "recipe", "data: Normalize(0.5, 0.5) to [-1,1]; batch 256; the \"validation\" set is the test "
                               "split; t-SNE on all 10,000 test codes",
          (exact("recipe", "sweep settings other than [-1,1] inputs, Tanh, batch 256",
                 RecipeMismatches(SWEEP, (("input_range", "symmetric"), ("output", "tanh"), ("batch_size", 256),
                                          ("val_fraction", 0.0))), 0),)),
    Claim("C002-53", "recipe", "vanilla AE: 784-128-64-z, z-64-128-784 Tanh; MSE; AdamW lr 1e-3, wd 1e-5; 5 epochs; "
                               "z in {2,3,5,10,50}",
          (*(exact(f"z{z}", f"parameters at z={z}", vanilla("n_params", z), count)
             for z, count in ((2, 218_514), (3, 218_643), (5, 218_901), (10, 219_546), (50, 224_706))),
           exact("recipe", "sweep settings other than the recipe's",
                 RecipeMismatches(SWEEP, (("hidden", [128, 64]), ("optimizer", "adamw"), ("lr", 1e-3),
                                          ("weight_decay", 1e-5), ("epochs", 5))), 0))),
    Claim("C002-54", "recipe", "spatial conv AE: Conv-ReLU-MaxPool twice to a 64x2x2 code; ConvT decoder, Tanh; "
                               "training as the vanilla AE",
          (exact("n_params", "parameters", Metric(CONV, "n_params"), 50_161),
           Check("relu", "smallest code value over the test set (>= 0: the encoder's ReLUs)",
                 Metric(CONV, "code_min"), above(-1e-12), exact=True, fmt="{:.3g}"),
           exact("recipe", "settings other than the vanilla recipe's",
                 RecipeMismatches(CONV, (("optimizer", "adamw"), ("lr", 1e-3), ("weight_decay", 1e-5),
                                         ("epochs", 5), ("batch_size", 256), ("input_range", "symmetric"))), 0)),
          note="SPEC.md omitted the encoder ReLUs until issue 16 (CLAIMS.md Note B)"),
)

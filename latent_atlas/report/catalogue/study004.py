"""Study 004: latent traversals of the z=16 classifier AE, entanglement, and DCI read the study's way.

The study names dims by their index (1-based). A retrained network's dims
are a fresh draw, so an index-wise claim asks whether a retrained model's
dim k does the same thing; the counts (7 dims without effect) are
comparable across retrainings.
"""

from __future__ import annotations

from latent_atlas.report.claims import Check, Claim, exact
from latent_atlas.report.measures import At, Diff, Dims, Metric, ParamMismatches
from latent_atlas.report.stats import above, below, near
from latent_atlas.report.sweep_measures import Across

FULL, REDUCED = "classifier_ae", "classifier_ae_reduced"
# A loss of accuracy counts from half a point (as in study 000).
ACCURACY_MARGIN = 0.005
# "Very low" D and C: under twice their floor 1/16 for 16 dims.
SHORTCUT_FLOOR_TWICE = 2 / 16

CLAIMS = (
    Claim("C004-01", "qualitative", '"Latent dimensions that we select based on the eigenvalues, does not '
                                    'correspond to the performance of the model"',
          (Check("trained", "trained z=6 (the eigenvalue count): accuracy(z=16) - accuracy(z=6), > 0.005",
                 Diff(Metric(FULL, "accuracy"), Metric(REDUCED, "accuracy")), above(ACCURACY_MARGIN), fmt="{:+.4f}"),
           Check("untrained", "the study's untrained z=6: accuracy(z=16) - accuracy(z=6)",
                 Diff(Metric(FULL, "accuracy"), Metric(REDUCED, "untrained_accuracy")), fmt="{:+.4f}")),
          figure="summary/eigen_reading.png", note="the premise rests on the untrained z=6 network (Note A)"),
    Claim("C004-02", "qualitative", 'test image 12: traversing "dimesions 16 (the last dimensions), we did not see '
                                    'any major changes"',
          (Check("dim16", "traversal effect of dim 16 on the first traversal image minus the median dim",
                 Dims(FULL, "traversal_grid_effect", (15,), against_median=True), below(0), fmt="{:+.2e}"),),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-03", "qualitative", 'traversing "dimensions 1 … blurred up to the point it\'s not recognizable '
                                    'anymore"',
          # Not recognizable: the judge's confidence falls below one half somewhere along the traversal.
          (Check("confidence", "lowest judge confidence along dim 1's traversal",
                 Dims(FULL, "traversal_min_confidence", (0,)), below(0.5)),
           Check("sharpness", "lowest sharpness along dim 1's traversal", Dims(FULL, "traversal_min_sharpness", (0,)))),
          figure="{classifier_ae}/traversal_12.png", note="the study's own list says dim 1 has no impact (Note D)"),
    Claim("C004-04", "qualitative", '"Some controls the stroke …, some controls the rotation/orientation and some '
                                    '… classification/identification"',
          (Check("kinds", "kinds of dims found among identity, stroke and rotation (study: all 3)",
                 Metric(FULL, "traversal_kinds"), near(3, 0), fmt="{:.1f}"),
           Check("identity", "dims whose traversal changes the judge's label", Metric(FULL, "traversal_label_dims"),
                 fmt="{:.1f}")),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-05", "qualitative", '"Dimension 4 — Identity control, it morph from slanted \'5\' to \'9\'"; dim 8 '
                                    '"2"→"9"; dim 11 "9"→"4"',
          (Check("label", "share of dims 4, 8, 11 whose traversal changes the judge's label",
                 Dims(FULL, "traversal_label_changes", (3, 7, 10)), above(0.5), fmt="{:.2f}"),),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-06", "qualitative", '"Dimension 6 … 9 … 13 — Stroke and rotation control"',
          (Check("style", "share of dims 6, 9, 13 that change stroke or slant with the label unchanged",
                 Dims(FULL, "traversal_style_dims", (5, 8, 12)), above(0.5), fmt="{:.2f}"),),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-07", "number", '"there are 7 dimensions that have no major impact" (dims 1, 3, 10, 12, 14, 15, 16)',
          (Check("image", "dims whose effect on the first traversal image is under the declared fraction of the "
                          "largest (study: 7)", Metric(FULL, "dead_dims_image"), near(7, 0.5), fmt="{:.1f}"),
           Check("averaged", "the same, effects averaged over the traversal images", Metric(FULL, "dead_dims"),
                 fmt="{:.1f}")),
          figure="{classifier_ae}/traversal_effects.png"),
    Claim("C004-08", "qualitative", '"we technically we can remove all this 7 dimensions"',
          (Check("accuracy", "head accuracy lost when the dead dims are set to their mean (< 0.005)",
                 Metric(FULL, "ablation_dead_accuracy_drop"), below(ACCURACY_MARGIN), fmt="{:+.4f}"),
           Check("mse", "relative rise of the test MSE when they are", Metric(FULL, "ablation_dead_mse_increase"),
                 fmt="{:+.4f}"),
           Check("dead", "dead dims set to their mean", Metric(FULL, "dead_dims"), fmt="{:.1f}")),
          figure="{classifier_ae}/traversal_effects.png"),
    Claim("C004-09", "qualitative", 'test image 19: "the dimensions now behaving differently for different data '
                                    'input"',
          # Input-dependent: the dims' effect profiles of two images rank-correlate under 0.5 on average.
          (Check("profiles", "mean Spearman between images of the per-dim effect profile",
                 Metric(FULL, "traversal_profile_rank_corr"), below(0.5), fmt="{:.3f}"),
           Check("consistency", "effect-weighted consistency of the dims' edits",
                 Metric(FULL, "traversal_consistency_weighted"), fmt="{:.3f}")),
          figure="{classifier_ae}/traversal_19.png"),
    Claim("C004-10", "qualitative", '"an entangled dimensions cannot be depended to explore new data … outside of '
                                    'their training realm"',
          (Check("spearman", "Spearman across variants of DCI disentanglement with kNN accuracy on 2-px shifted digits",
                 Across(Metric(None, "dci_disentanglement"), At(None, "shift_knn_accuracy", "shift_pixels", 2)),
                 above(0), fmt="{:+.3f}"),)),
    Claim("C004-11", "qualitative", 'gradient boosting "is non-linear, so it can capture the non-linearity in the '
                                    'latent dimensions"',
          (Check("trees_vs_linear", "held-out digit accuracy from the codes: tree ensemble minus logistic "
                                    "regression, same rows",
                 Diff(Metric(FULL, "dci_informativeness_digit"), Metric(FULL, "dci_linear_informativeness_digit")),
                 above(0), fmt="{:+.4f}"),),
          figure="{classifier_ae}/dci_importance.png",
          note="extra-trees stand in for gradient boosting (README, DCI)"),
    Claim("C004-12", "qualitative", "GBC feature importances show which latent dims carry the digit",
          # Stable: the digit importances of two disjoint halves of the rows rank-correlate above 0.5.
          (Check("stability", "Spearman of the digit importances fitted on two halves of the training rows",
                 Metric(FULL, "dci_importance_stability"), above(0.5), fmt="{:.3f}"),),
          figure="{classifier_ae}/dci_importance.png"),
    Claim("C004-13", "qualitative", '"although our accuracy is high, our disentanglement and completeness are '
                                    'very-very low"',
          (Check("accuracy", "the shortcut's I: in-sample digit accuracy", Metric(FULL, "dci_single_informativeness_in_sample"),
                 above(0.9)),
           Check("disentanglement", "the shortcut's D = sum p^2 (floor 1/16)", Metric(FULL, "dci_single_disentanglement"),
                 below(SHORTCUT_FLOOR_TWICE)),
           Check("completeness", "the shortcut's C = max p (floor 1/16)", Metric(FULL, "dci_single_completeness"),
                 below(SHORTCUT_FLOOR_TWICE)),
           Check("held_out", "held-out digit accuracy", Metric(FULL, "dci_single_informativeness"))),
          figure="{classifier_ae}/dci_importance.png"),
    Claim("C004-14", "qualitative", '"no other ways to improve the disentanglement … without adjusting our '
                                    'architecture"',
          (Check("conv", "DCI disentanglement: small conv AE minus classifier AE (> 0: an architecture change helps)",
                 Diff(Metric("small_conv_ae", "dci_disentanglement"), Metric(FULL, "dci_disentanglement")), above(0),
                 fmt="{:+.4f}"),
           Check("spatial", "the same for the spatial conv AE",
                 Diff(Metric("spatial_conv_ae", "dci_disentanglement"), Metric(FULL, "dci_disentanglement")),
                 fmt="{:+.4f}"),
           # "No other way": an objective alone (beta-VAE: the KL weighted 4x) does not raise D.
           Check("beta", "DCI disentanglement: beta-VAE minus classifier AE (< 0: the objective alone does not help)",
                 Diff(Metric("beta_vae", "dci_disentanglement"), Metric(FULL, "dci_disentanglement")), below(0),
                 fmt="{:+.4f}"),
           Check("conv_vae", "the same for the conv VAE (architecture and objective)",
                 Diff(Metric("conv_vae", "dci_disentanglement"), Metric(FULL, "dci_disentanglement")), fmt="{:+.4f}"),
           Check("beta_completeness", "DCI completeness: beta-VAE minus classifier AE",
                 Diff(Metric("beta_vae", "dci_completeness"), Metric(FULL, "dci_completeness")), fmt="{:+.4f}"),
           Check("beta_mig", "MIG: beta-VAE minus classifier AE",
                 Diff(Metric("beta_vae", "mig"), Metric(FULL, "mig")), fmt="{:+.4f}"),
           Check("conv_mig", "MIG: small conv AE minus classifier AE",
                 Diff(Metric("small_conv_ae", "mig"), Metric(FULL, "mig")), fmt="{:+.4f}"),
           Check("conv_vae_mig", "MIG: conv VAE minus classifier AE",
                 Diff(Metric("conv_vae", "mig"), Metric(FULL, "mig")), fmt="{:+.4f}"))),
    Claim("C004-15", "qualitative", 'dims 2, 5 and 7: "Control over shape refinement or model confidence"',
          (Check("confidence", "judge confidence change along dims 2, 5, 7 (label unchanged) minus the median dim",
                 Dims(FULL, "traversal_confidence_change", (1, 4, 6), against_median=True), above(0), fmt="{:+.4f}"),
           Check("label", "share of dims 2, 5, 7 whose traversal changes the judge's label",
                 Dims(FULL, "traversal_label_changes", (1, 4, 6)), below(0.5), fmt="{:.2f}")),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-16", "recipe", "traversal: the z=16 classifier AE; test images 12 and 19; dim i set to 10 absolute "
                               "values linspace(-3, 3); decoded",
          (exact("recipe", "traversal params other than the recipe's",
                 ParamMismatches((("analyze.traversal.images", [12, 19]), ("analyze.traversal.range", 3.0),
                                  ("analyze.traversal.steps", 10))), 0),
           Check("code_sd", "mean per-dim sd of the z=16 test codes (against the range 3)",
                 Metric(FULL, "code_std_mean"))),
          figure="{classifier_ae}/traversal_12.png"),
    Claim("C004-17", "recipe", "DCI shortcut: GradientBoostingClassifier fit on the test codes; I = accuracy on the "
                               "same codes; p = importances / sum; D = sum p^2; C = max p",
          (Check("optimism", "the shortcut's in-sample I minus a held-out I (> 0: in-sample is optimistic)",
                 Diff(Metric(FULL, "dci_single_informativeness_in_sample"), Metric(FULL, "dci_single_informativeness")),
                 above(0), fmt="{:+.4f}"),),
          figure="{classifier_ae}/dci_importance.png", note="CLAIMS.md Note E"),
)

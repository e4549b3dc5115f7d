"""Study 003: a deep MLP AE against a small conv AE, by test MSE, k-means purity and PCA views."""

from __future__ import annotations

from latent_atlas.report.claims import Check, Claim, exact, study_number
from latent_atlas.report.digit_measures import DigitRank
from latent_atlas.report.measures import Diff, Metric, ParamMismatches, RecipeMismatches
from latent_atlas.report.stats import above, below

DEEP, CONV = "deep_ae", "small_conv_ae"


def conv_minus_deep(key: str) -> Diff:
    return Diff(Metric(CONV, key), Metric(DEEP, key))


CLAIMS = (
    Claim("C003-01", "number", 'deep MLP AE: "Epoch 20/20, Loss: 0.020134" (last mini-batch)',
          (study_number("loss", "last epoch's mean training MSE", Metric(DEEP, "final_train_loss"), 0.020134,
                        fmt="{:.5f}"),),
          figure="{deep_ae}/loss.png", note="the study printed one mini-batch's loss, we the epoch's mean (Note F)"),
    Claim("C003-02", "number", 'small conv AE: "Epoch 20/20, Loss: 0.017252"',
          (study_number("loss", "last epoch's mean training MSE", Metric(CONV, "final_train_loss"), 0.017252,
                        fmt="{:.5f}"),),
          figure="{small_conv_ae}/loss.png"),
    Claim("C003-03", "number", '"The Mean Squared Error for the simple model is: 0.021359"',
          (study_number("mse", "test MSE of the deep AE", Metric(DEEP, "test_mse"), 0.021359, fmt="{:.5f}"),),
          figure="{deep_ae}/reconstructions.png"),
    Claim("C003-04", "number", '"The Mean Squared Error for the convolutional model is: 0.016341"',
          (study_number("mse", "test MSE of the small conv AE", Metric(CONV, "test_mse"), 0.016341, fmt="{:.5f}"),),
          figure="{small_conv_ae}/reconstructions.png"),
    Claim("C003-05", "qualitative", '"the convolutional model performs better than the simple model for '
                                    'reconstructing the image"',
          (Check("mse", "test MSE: deep minus small conv (> 0: conv better)",
                 Diff(Metric(DEEP, "test_mse"), Metric(CONV, "test_mse")), above(0), fmt="{:+.5f}"),),
          figure="summary/mse_vs_latent.png"),
    Claim("C003-06", "qualitative", 'PCA view: "The most consistently grouped numbers apear to be 0 and 1"',
          (Check("deep", "worst rank of 0 and 1 in per-digit kNN accuracy of the PCA view, deep AE",
                 DigitRank(DEEP, "class_view_knn_pca2", (0, 1)), below(2.5), fmt="{:.1f}"),
           Check("conv", "the same, small conv AE", DigitRank(CONV, "class_view_knn_pca2", (0, 1)), below(2.5),
                 fmt="{:.1f}")),
          figure="{deep_ae}/latent_pca.png"),
    Claim("C003-07", "qualitative", 'visually similar digits "appear in less well-defined clusters, such as 9, 4 '
                                    'and 7"',
          (Check("deep", "best rank of 4, 7 and 9 in per-digit kNN accuracy of the PCA view, deep AE (> 5: all "
                         "in the bottom half)", DigitRank(DEEP, "class_view_knn_pca2", (4, 7, 9), worst=False),
                 above(5.5), fmt="{:.1f}"),
           Check("conv", "the same, small conv AE", DigitRank(CONV, "class_view_knn_pca2", (4, 7, 9), worst=False),
                 above(5.5), fmt="{:.1f}")),
          figure="{small_conv_ae}/latent_pca.png"),
    Claim("C003-08", "qualitative", '"I would expect the first model to have better clusterings just based on the '
                                    'above graphs"',
          (Check("view_knn", "kNN accuracy in the PCA view: deep minus small conv",
                 Diff(Metric(DEEP, "view_knn_pca2"), Metric(CONV, "view_knn_pca2")), above(0), fmt="{:+.4f}"),
           Check("purity", "purity: deep minus small conv (C003-11 reads the other way)",
                 Diff(Metric(DEEP, "purity_best"), Metric(CONV, "purity_best")), fmt="{:+.4f}")),
          figure="{deep_ae}/latent_pca.png"),
    Claim("C003-09", "number", '"The purity score for the simple model is 0.6589"',
          (study_number("purity", "k-means purity, best of 10, deep AE", Metric(DEEP, "purity_best"), 0.6589),
           Check("mean", "mean over the 10 k-means runs", Metric(DEEP, "purity_mean"))),
          figure="{deep_ae}/latent_pca.png"),
    Claim("C003-10", "number", '"The purity score for the convolutional model is 0.7059"',
          (study_number("purity", "k-means purity, best of 10, small conv AE", Metric(CONV, "purity_best"), 0.7059),
           Check("mean", "mean over the 10 k-means runs", Metric(CONV, "purity_mean"))),
          figure="{small_conv_ae}/latent_pca.png"),
    Claim("C003-11", "qualitative", '"the convolutional model can be clustered more effectively into groups … '
                                    'related to the image labels"',
          (Check("purity", "purity: small conv minus deep", conv_minus_deep("purity_best"), above(0), fmt="{:+.4f}"),
           Check("nmi", "NMI: small conv minus deep", conv_minus_deep("nmi"), fmt="{:+.4f}"),
           Check("ari", "ARI: small conv minus deep", conv_minus_deep("ari"), fmt="{:+.4f}"))),
    Claim("C003-12", "qualitative", '"a connection between the encodings and the original labels … despite the '
                                    'model not knowing about it"',
          (Check("deep", "purity minus purity against shuffled labels, deep AE",
                 Diff(Metric(DEEP, "purity_best"), Metric(DEEP, "purity_shuffled")), above(0), fmt="{:+.4f}"),
           Check("conv", "the same, small conv AE", Diff(Metric(CONV, "purity_best"), Metric(CONV, "purity_shuffled")),
                 above(0), fmt="{:+.4f}"),
           Check("probe", "linear-probe accuracy, small conv AE", Metric(CONV, "probe_linear_accuracy")))),
    Claim("C003-13", "qualitative", 'future work: "different evaluation metrics … different clustering algorithms '
                                    '… architectures and different datasets"',
          not_testable="a plan for future work: it states no result to reproduce"),
    Claim("C003-14", "recipe", "deep MLP AE: 784-128-64-36-18-9, mirror decoder, Sigmoid; MSE; Adam lr 1e-3, "
                               "wd 1e-8; 20 epochs; batch 32",
          (exact("n_params", "parameters", Metric(DEEP, "n_params"), 224_601),
           exact("recipe", "settings other than the recipe's",
                 RecipeMismatches(DEEP, (("hidden", [128, 64, 36, 18]), ("latent_dim", 9), ("output", "sigmoid"),
                                         ("optimizer", "adam"), ("lr", 1e-3), ("weight_decay", 1e-8),
                                         ("epochs", 20), ("batch_size", 32))), 0))),
    Claim("C003-15", "recipe", "small conv AE: two Conv-ReLU-MaxPool blocks, 196-64-10; mirrored decoder, Sigmoid; "
                               "Adam lr 1e-3; 20 epochs; batch 32",
          (exact("n_params", "parameters", Metric(CONV, "n_params"), 27_443),
           exact("recipe", "settings other than the recipe's",
                 RecipeMismatches(CONV, (("latent_dim", 10), ("output", "sigmoid"), ("optimizer", "adam"),
                                         ("lr", 1e-3), ("weight_decay", 0.0), ("epochs", 20),
                                         ("batch_size", 32))), 0))),
    Claim("C003-16", "recipe", "evaluation: MSE over all test images; PCA-2 views; k-means k=10 over 10 seeds, "
                               "purity the best of them",
          (exact("seeds", "analyze.kmeans_seeds other than 10", ParamMismatches((("analyze.kmeans_seeds", 10),)), 0),
           Check("mean_gap", "best minus mean purity over the 10 runs, deep AE (the best-of-10 optimism)",
                 Diff(Metric(DEEP, "purity_best"), Metric(DEEP, "purity_mean")), fmt="{:+.4f}"))),
)

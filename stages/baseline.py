"""Stage baseline: PCA of MNIST as the linear baseline, and the morphometric factors for DCI."""

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis import plots
from latent_atlas.analysis.baseline import fit_pca, pca_baseline
from latent_atlas.analysis.geometry import PRECISION_K, precision_at_k
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.data.morpho import measure_factors
from latent_atlas.io import write_json, write_npz


def main(args, params):
    cfg = params.baseline
    data = load_arrays(paths.MNIST)
    train_images, train_labels = data.subset(TRAIN)
    test_images, test_labels = data.subset(TEST)
    train01 = train_images.astype(np.float32) / 255.0
    test01 = test_images.astype(np.float32) / 255.0
    ks = sorted(cfg.ks)

    fit = fit_pca(train01)
    # Probes and neighbours with the autoencoders' settings (analyze.*), so pixels and codes compare.
    by_k = pca_baseline(fit, test01, test_labels, ks, kmeans_seeds=cfg.kmeans_seeds, seed=params.seed,
                        train01=train01, train_labels=train_labels, knn_k=params.analyze.knn_k,
                        probe_max_train=params.analyze.probe_max_train)
    pixel_precision = precision_at_k(test01.reshape(len(test01), -1), test_labels, k=PRECISION_K,
                                     max_queries=params.analyze.precision_queries, seed=params.seed)
    write_json(paths.BASELINE_METRICS, {"n_train": len(train01), "n_test": len(test01), "pca": by_k,
                                        "pixel_precision_at_10": pixel_precision})

    shown = test01[:10].reshape(10, -1)
    rows = [test01[:10]] + [fit.decode(fit.encode(shown, k)).reshape(-1, 28, 28).clip(0, 1) for k in ks]
    plots.save(paths.BASELINE_PLOTS / "pca_reconstructions.png", plots.image_rows(
        rows, ["original", *[f"k={k}" for k in ks]], "PCA of MNIST: test digits by number of components"))

    factors = measure_factors(test_images, train_images, cfg.factor_train_n, params.seed, cfg.morpho_scale)
    # Same factors, same bytes (numpy writes fixed zip timestamps), so a rerun
    # for a new list of k does not rerun every analyze stage.
    write_npz(paths.FACTORS, **factors.as_arrays())
    print("PCA test MSE: " + ", ".join(f"k={v['latent_dim']} {v['test_mse']:.5f}" for v in by_k.values()))
    print(f"factors {', '.join(factors.names)} for {len(factors.test)} test and "
          f"{len(factors.train)} training images -> {paths.FACTORS}")


if __name__ == "__main__":
    run_stage(main, __doc__)

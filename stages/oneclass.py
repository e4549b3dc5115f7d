"""Stage oneclass: one normal digit of the one-class protocol (Ruff et al. 2018).

Trains the conv AE of `anomaly.model` on that digit's training images alone
and scores all test images (reconstruction error, code kNN, pixel kNN);
writes data/anomaly/<digit>.npz and metrics/anomaly/<digit>.json.
"""

from latent_atlas import paths
from latent_atlas.analysis.oneclass import one_class_run
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.io import write_json, write_npz
from latent_atlas.models.training import resolve_device


def main(args, params):
    data = load_arrays(paths.MNIST)
    (train_images, train_labels), (test_images, test_labels) = data.subset(TRAIN), data.subset(TEST)
    result = one_class_run(train_images, train_labels, test_images, test_labels, args.digit, params,
                           resolve_device(params.train.device))
    write_npz(paths.anomaly_scores(args.digit), is_anomaly=result.is_anomaly, **result.scores)
    metrics = result.metrics()
    write_json(paths.anomaly_digit_metrics(args.digit), {**metrics, "train_seconds": result.train_seconds})
    print(f"digit {args.digit} normal, {result.n_train} training images: "
          + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k.startswith("auroc_"))
          + f" (training {result.train_seconds:.1f} s, scoring {result.score_seconds:.1f} s)")


if __name__ == "__main__":
    run_stage(main, __doc__, digit=True)

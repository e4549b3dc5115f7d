"""Stage judge: the fixed pixel-space digit classifier that scores every variant's images."""

import numpy as np

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.io import read_json, write_json
from latent_atlas.models.judge import Judge, JudgeSettings, save_judge, train_judge


def main(args, params):
    data = load_arrays(paths.MNIST)
    (train_images, train_labels), (test_images, test_labels) = data.subset(TRAIN), data.subset(TEST)
    cfg = params.judge
    settings = JudgeSettings(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=params.seed)
    model, history = train_judge(train_images.astype(np.float32) / 255.0, train_labels, settings)
    save_judge(paths.JUDGE, model, read_json(paths.MNIST_INFO)["checksum_sha256"])
    accuracy = Judge(model).accuracy(test_images.astype(np.float32) / 255.0, test_labels)
    seconds = sum(row["seconds"] for row in history)
    write_json(paths.JUDGE_METRICS, {"test_accuracy": accuracy, "final_train_loss": history[-1]["train_loss"],
                                     "epochs": len(history), "train_seconds": seconds})
    print(f"judge: test accuracy {accuracy:.4f} after {len(history)} epochs ({seconds:.1f} s)")


if __name__ == "__main__":
    run_stage(main, __doc__)

"""Benchmark: the spatial conv AE with and without its encoder ReLUs, side by side, over seeds.

Study 002's encoder has a ReLU after each Conv2d (CLAIMS.md Note B); the
project's model lacked them until issue 16. This trains the recipe both
ways on the same data and seeds and prints the numbers that changed: test
MSE, the code's range, k-means purity, the probes, the judge's accuracy on
reconstructions, and the paired differences (with - without).

    python bench/spatial_conv_relu.py                       # the 5,000 bundled digits, seeds 1-3
    python bench/spatial_conv_relu.py --mnist /path/to/mnist --seeds 1,2,3,4,5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from latent_atlas.analysis.clustering import kmeans_purity
from latent_atlas.analysis.probes import knn_accuracy, linear_probe_accuracy
from latent_atlas.analysis.recognizability import judged, sharpness
from latent_atlas.config import load_params
from latent_atlas.data.mnist import TEST, TRAIN
from latent_atlas.data.sources import load_bundled, load_local
from latent_atlas.models.autoencoders import model_config
from latent_atlas.models.inference import run_model
from latent_atlas.models.judge import Judge, JudgeSettings, train_judge
from latent_atlas.models.training import initial_model, to_model_input, train_config, train_model
from latent_atlas.report import stats

NAME = "spatial_conv"


def without_encoder_relus(model: nn.Module) -> nn.Module:
    """The model as the project built it before issue 16: the encoder's ReLUs replaced by identities."""
    for i, layer in enumerate(model.encoder):
        if isinstance(layer, nn.ReLU):
            model.encoder[i] = nn.Identity()
    return model


def measure(model, params, data, judge) -> dict[str, float]:
    (train_x, train_y), (test_x, test_y) = data.subset(TRAIN), data.subset(TEST)
    device = torch.device("cpu")
    test = run_model(model, test_x, "symmetric", device)
    train = run_model(model, train_x, "symmetric", device)
    z, zt = test["latents"], train["latents"]
    images01 = test_x.astype(np.float32) / 255.0
    purity = kmeans_purity(z, test_y, n_clusters=10, n_seeds=params.analyze.kmeans_seeds, seed=params.seed)
    return {"test_mse": float(test["recon_error"].mean()), "code_min": float(z.min()),
            "negative_share": float(np.mean(z < 0)), "purity_best": purity["purity_best"],
            "purity_mean": purity["purity_mean"], "nmi": purity["nmi"],
            "probe_linear": linear_probe_accuracy(zt, train_y, z, test_y, seed=params.seed),
            "probe_knn": knn_accuracy(zt, train_y, z, test_y, seed=params.seed),
            "recon_judge_accuracy": judged(judge, test["reconstructions"], test_y)["accuracy"],
            "recon_sharpness": sharpness(test["reconstructions"], images01)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None, help="an MNIST folder (default: the bundled 5,000 digits)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    base = load_params(args.params)
    data = load_local(args.mnist) if args.mnist and Path(args.mnist).is_dir() else load_bundled(base.seed)
    train_x, train_y = data.subset(TRAIN)
    print(f"{data.source}: {len(train_y)} train / {len(data.subset(TEST)[1])} test; recipe {NAME}: "
          f"{base.variant(NAME).epochs} epochs, batch {base.variant(NAME).batch_size}")
    judge = Judge(train_judge(train_x.astype(np.float32) / 255.0, train_y, JudgeSettings(seed=base.seed))[0])
    rows: dict[str, dict[int, dict[str, float]]] = {"with ReLUs": {}, "without": {}}
    x, y = to_model_input(train_x, "symmetric"), torch.as_tensor(train_y, dtype=torch.long)
    for seed in (int(s) for s in args.seeds.split(",")):
        params = base.model_copy(update={"seed": seed})
        for label in rows:
            # The same seeded initial weights both ways (a ReLU has none), trained as the train stage trains.
            model = initial_model(model_config(params, NAME), seed)
            if label == "without":
                model = without_encoder_relus(model)
            train_model(model, x, y, train_config(params, NAME, "cpu"), progress=False)
            rows[label][seed] = measure(model.eval(), params, data, judge)
        print(f"seed {seed}: " + "; ".join(f"{label} MSE {rows[label][seed]['test_mse']:.5f}" for label in rows),
              flush=True)
    keys = list(next(iter(rows["with ReLUs"].values())))
    print(f"\n{'metric':<22} {'with ReLUs':>26} {'without':>26} {'with - without (paired)':>32}")
    for key in keys:
        cells = [stats.interval([r[key] for r in rows[label].values()]).text("{:.4f}") for label in rows]
        diff = stats.paired_difference({s: r[key] for s, r in rows["with ReLUs"].items()},
                                       {s: r[key] for s, r in rows["without"].items()}).text("{:+.4f}")
        print(f"{key:<22} {cells[0]:>26} {cells[1]:>26} {diff:>32}")


if __name__ == "__main__":
    main()

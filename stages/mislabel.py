"""Stage mislabel: flip a share of the training labels, find them by their nearest neighbours,
on every variant's codes and on the raw pixels (metrics/mislabel.json)."""

from latent_atlas import paths
from latent_atlas.analysis.mislabel import mislabel_part
from latent_atlas.arrays import subsample
from latent_atlas.cli import run_stage
from latent_atlas.data.latents import read_codes
from latent_atlas.data.mnist import TRAIN, load_arrays
from latent_atlas.io import write_json, write_text
from latent_atlas.report.applications import mislabel_markdown


def main(args, params):
    cfg = params.mislabel
    images, labels = load_arrays(paths.MNIST).subset(TRAIN)
    idx = subsample(len(labels), cfg.max_images, params.seed)
    codes = {name: read_codes(name, train=labels)["train"][idx] for name in params.variants}
    pixels = images[idx].reshape(len(idx), -1) / 255.0  # (n, 784)
    part = mislabel_part(pixels, codes, labels[idx], flip_fraction=cfg.flip_fraction, k=cfg.k, seed=params.seed)
    write_json(paths.MISLABEL_METRICS, part.metrics)
    write_text(paths.MISLABEL_REPORT, mislabel_markdown(part.metrics))
    scored = {"pixels": part.metrics.get("pixels"), **part.metrics.get("codes", {})}
    print(f"mislabel: {part.metrics['n_flipped']} of {len(idx)} labels flipped; AUROC "
          + (", ".join(f"{name} {m['auroc']:.4f}" for name, m in scored.items() if m) or "none: nothing to find"))


if __name__ == "__main__":
    run_stage(main, __doc__)

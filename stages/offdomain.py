"""Stage offdomain: every variant reconstructs photograph patches and MNIST test digits; errors as
fractions of variance unexplained, beside the patches' own PCA (metrics/offdomain.json, plots/offdomain/)."""

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis.offdomain import N_IMAGES, WINDOW, offdomain_part
from latent_atlas.analysis.parts import draw
from latent_atlas.arrays import subsample
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, load_arrays
from latent_atlas.data.offdomain import PHOTOGRAPHS, natural_patches
from latent_atlas.io import write_json, write_text
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import run_model
from latent_atlas.models.training import resolve_device
from latent_atlas.report.applications import offdomain_markdown


def reconstructor(name: str, device):
    """uint8 (n, 28, 28) -> (the variant's reconstructions in [0,1], its code size)."""
    ckpt = load_checkpoint(paths.checkpoint(name))
    model = ckpt.build()

    def reconstruct(images: np.ndarray) -> tuple[np.ndarray, int]:
        out = run_model(model, images, ckpt.input_range, device)
        return out["reconstructions"], int(out["latents"].shape[1])

    return reconstruct


def main(args, params):
    test_images = load_arrays(paths.MNIST).subset(TEST)[0]
    digits = test_images[subsample(len(test_images), N_IMAGES, params.seed)]
    # Twice as many patches, alternately scored and fitted (each photograph in both halves).
    drawn = natural_patches(2 * N_IMAGES, window=WINDOW, seed=params.seed)
    device = resolve_device(params.train.device)
    part = offdomain_part({name: reconstructor(name, device) for name in params.variants}, digits,
                          drawn[0::2], drawn[1::2])
    write_json(paths.OFFDOMAIN_METRICS, part.metrics)
    draw(part.drawings, "offdomain", paths.OFFDOMAIN_PLOTS)
    write_text(paths.OFFDOMAIN_REPORT, offdomain_markdown(part.metrics, PHOTOGRAPHS, WINDOW))
    print(f"offdomain, {part.metrics['n_images']} images, FVU photographs / digits: " + ", ".join(
        f"{n} {m['fvu_offdomain']:.3f}/{m['fvu_mnist']:.3f}" for n, m in part.metrics["variants"].items()))


if __name__ == "__main__":
    run_stage(main, __doc__)

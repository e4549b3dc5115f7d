"""Stage denoise: noisy test images cleaned by the plain and the denoising small conv AE and by
non-local means, each output against the clean image (metrics/denoise.json, plots/denoise/)."""

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis.denoise import AUTOENCODER_ROLES, ROW_COLUMNS, denoising_run
from latent_atlas.analysis.parts import draw
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.io import write_json, write_text
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import decoder_fn, encoder_fn
from latent_atlas.models.judge import load_judge
from latent_atlas.models.training import resolve_device
from latent_atlas.plotfiles import write_json_rows
from latent_atlas.report.applications import denoise_markdown


def reconstructor(name: str, device):
    """(n, 28, 28) [0,1] -> the variant's reconstructions in [0,1]."""
    ckpt = load_checkpoint(paths.checkpoint(name))
    model = ckpt.build().to(device)
    encode, decode = encoder_fn(model, ckpt.input_range, device), decoder_fn(model, ckpt.input_range, device)
    return lambda images01: decode(encode(images01))


def main(args, params):
    data = load_arrays(paths.MNIST)
    (train_images, _), (test_images, test_labels) = data.subset(TRAIN), data.subset(TEST)
    device = resolve_device(params.train.device)
    autoencoders = {role: reconstructor(params.roles.one(role), device) for role in AUTOENCODER_ROLES}
    judge = load_judge(paths.JUDGE)
    part = denoising_run(test_images.astype(np.float64) / 255.0, test_labels, train_images.astype(np.float64) / 255.0,
                         autoencoders, judge.accuracy, params.denoise, seed=params.seed)
    write_json(paths.DENOISE_METRICS, part.metrics)
    write_json_rows(paths.DENOISE_PLOTS / "psnr.json", part.details["rows"], ROW_COLUMNS, optional=("psnr",))
    draw(part.drawings, "denoising", paths.DENOISE_PLOTS)
    write_text(paths.DENOISE_REPORT, denoise_markdown(part.details["rows"], part.metrics))
    shown = [s for s in params.denoise.stds if s in (0.1, 0.3, 0.5)] or params.denoise.stds[:3]
    print(f"denoising, {part.metrics['n_images']} test images, PSNR (dB): " + "; ".join(
        f"sigma {s:g}: " + ", ".join(f"{k.removeprefix('psnr_')} {v:.2f}"
                                     for k, v in part.metrics[f"sigma_{s:g}"].items() if k.startswith("psnr_"))
        for s in shown))


if __name__ == "__main__":
    run_stage(main, __doc__)

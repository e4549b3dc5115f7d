"""Stage extract: from the checkpoint alone, latents and per-image reconstruction errors."""

import numpy as np

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.io import write_npz
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import run_model
from latent_atlas.models.training import resolve_device


def main(args, params):
    ckpt = load_checkpoint(paths.checkpoint(args.variant))
    model, device = ckpt.build(), resolve_device(params.train.device)
    data = load_arrays(paths.MNIST)
    arrays = {}
    for split_name, which in (("test", TEST), ("train", TRAIN)):
        images, labels = data.subset(which)
        out = run_model(model, images, ckpt.input_range, device)
        arrays[f"z_{split_name}"] = out["latents"].astype(np.float32)
        arrays[f"y_{split_name}"] = labels
        arrays[f"recon_error_{split_name}"] = out["recon_error"].astype(np.float32)
        if "log_probs" in out:
            arrays[f"log_probs_{split_name}"] = out["log_probs"].astype(np.float32)
    write_npz(paths.latents(args.variant), **arrays)
    print(f"{args.variant}: test latents {arrays['z_test'].shape}, "
          f"mean test MSE {arrays['recon_error_test'].mean():.5f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)

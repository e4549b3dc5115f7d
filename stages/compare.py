"""Stage compare: one row per variant (metrics/summary.json, reports/summary.md)
and the vanilla AE sweep's reconstruction grid."""

import json

from latent_atlas import paths, plots
from latent_atlas.cli import run_stage
from latent_atlas.data import TEST, load_arrays
from latent_atlas.inference import run_model
from latent_atlas.io import write_json, write_text
from latent_atlas.models import load_checkpoint
from latent_atlas.report import summary_markdown, summary_row
from latent_atlas.training import resolve_device


def read_json(path):
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the stage that makes it (dvc repro)")
    return json.loads(path.read_text())


def main(args, params):
    rows = [
        summary_row(name, variant.arch, read_json(paths.analysis(name)), read_json(paths.train_metrics(name)))
        for name, variant in params.variants.items()
    ]
    write_json(paths.SUMMARY_METRICS, {row["variant"]: row for row in rows})

    images = load_arrays(paths.MNIST).subset(TEST)[0][: params.compare.n_digits]
    device = resolve_device(params.train.device)
    grid_rows, names = [images / 255.0], ["original"]
    for name in params.compare.sweep:
        ckpt = load_checkpoint(paths.checkpoint(name))
        grid_rows.append(run_model(ckpt.build(), images, ckpt.input_range, device)["reconstructions"])
        names.append(f"z={ckpt.model_config['latent_dim']}")
    plots.save(paths.SUMMARY_PLOTS / "sweep_grid.png",
               plots.image_rows(grid_rows, names, "Vanilla AE: the same test digits by latent size"))
    write_text(paths.SUMMARY_REPORT, summary_markdown(rows, read_json(paths.MNIST_INFO)))
    print(f"summary of {len(rows)} variants -> {paths.SUMMARY_REPORT}")


if __name__ == "__main__":
    run_stage(main, __doc__)

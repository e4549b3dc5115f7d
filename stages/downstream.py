"""Stage downstream: one classifier fitted on every variant's codes and on the raw pixels,
its accuracy and fit time (metrics/downstream.json)."""

from latent_atlas import paths
from latent_atlas.analysis.downstream import downstream_part
from latent_atlas.cli import run_stage
from latent_atlas.data.latents import read_codes
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.io import write_json, write_text
from latent_atlas.report.applications import downstream_markdown


def main(args, params):
    data = load_arrays(paths.MNIST)
    (train_images, y_train), (test_images, y_test) = data.subset(TRAIN), data.subset(TEST)
    found = {name: read_codes(name, train=y_train, test=y_test) for name in params.variants}
    codes = {name: (z["train"], z["test"]) for name, z in found.items()}
    pixels = (train_images.reshape(len(train_images), -1) / 255.0, test_images.reshape(len(test_images), -1) / 255.0)
    cfg = params.downstream
    part = downstream_part(pixels, codes, y_train, y_test, max_train=cfg.max_train, seed=params.seed,
                           repeats=cfg.fit_repeats)
    write_json(paths.DOWNSTREAM_METRICS, part.metrics)
    write_text(paths.DOWNSTREAM_REPORT, downstream_markdown(part.metrics))
    on_pixels = part.metrics["pixels"]
    print(f"downstream, {part.metrics['n_train']} training rows: pixels accuracy {on_pixels['accuracy']:.4f} "
          f"in {on_pixels['fit_seconds']:.2f} s; " + ", ".join(
              f"{n} {m['accuracy']:.4f} in {m['fit_seconds']:.2f} s" for n, m in part.metrics["codes"].items()))


if __name__ == "__main__":
    run_stage(main, __doc__)

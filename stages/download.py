"""Stage download: MNIST from data.source, verified, to data/mnist.npz."""

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data import TEST, TRAIN, limit_per_split, load_mnist, save_arrays
from latent_atlas.io import write_json


def main(args, params):
    data = load_mnist(
        params.data.source,
        local_dir=params.data.local_dir,
        cache_dir=paths.DOWNLOAD_CACHE,
        timeout_s=params.data.timeout_s,
        seed=params.seed,
    )
    data = limit_per_split(data, params.data.limit)
    checksum = save_arrays(paths.MNIST, data)
    write_json(paths.MNIST_INFO, {
        "source_requested": params.data.source,
        "source": data.source,
        "n_train": int((data.split == TRAIN).sum()),
        "n_test": int((data.split == TEST).sum()),
        "checksum_sha256": checksum,
    })
    print(f"MNIST from {data.source}: {len(data.labels)} images, sha256 {checksum[:12]}")


if __name__ == "__main__":
    run_stage(main, __doc__)

"""Stage download: MNIST from data.source, verified, to data/mnist.npz.

dvc.yaml marks this stage always_changed, so DVC asks the source again on every
`dvc repro` instead of restoring an `auto` result from its run cache: an offline
fallback to the bundled digits is never reused (nor pushed) as if it were full
MNIST. See latent_atlas.data.mnist for why a rerun costs little and changes nothing
downstream while the data stay the same.

The verified archives are kept in the repository's own data/raw, also when DVC
runs a queued experiment in a copy under .dvc/tmp/exps: a queued run offline
then still reads full MNIST instead of falling back. A relative data.local_dir
is read from that root too, so `dvc exp run --queue` finds the same folder as
`dvc repro`.
"""

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, TRAIN, limit_per_split, save_arrays
from latent_atlas.data.sources import load_mnist
from latent_atlas.io import write_json
from latent_atlas.paths import repo_root


def main(args, params):
    root = repo_root()
    data = load_mnist(
        params.data.source,
        local_dir=root / params.data.local_dir,  # an absolute local_dir stays as it is
        cache_dir=root / paths.DOWNLOAD_CACHE,
        timeout_s=params.data.timeout_s,
        seed=params.seed,
    )
    data = limit_per_split(data, params.data.limit)
    checksum = save_arrays(paths.MNIST, data)
    write_json(paths.MNIST_INFO, {
        "source_requested": params.data.source,
        "source": data.source,
        # auto fell back to the 5,000 bundled digits: not full MNIST.
        "fallback": params.data.source == "auto" and data.source != "download",
        "n_train": int((data.split == TRAIN).sum()),
        "n_test": int((data.split == TEST).sum()),
        "checksum_sha256": checksum,
    })
    print(f"MNIST from {data.source}: {len(data.labels)} images, sha256 {checksum[:12]}")


if __name__ == "__main__":
    run_stage(main, __doc__)

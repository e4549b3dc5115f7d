"""`python -m latent_atlas.replicates`: the same as `latent-atlas replicates`."""

import sys

from latent_atlas.commands import main

if __name__ == "__main__":
    sys.exit(main(["replicates", *sys.argv[1:]]))

"""`python -m latent_atlas.experiments`: the same as `latent-atlas experiments`."""

import sys

from latent_atlas.commands import main

if __name__ == "__main__":
    sys.exit(main(["experiments", *sys.argv[1:]]))

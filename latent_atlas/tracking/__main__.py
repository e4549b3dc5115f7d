"""`python -m latent_atlas.tracking init|check`: the same as `latent-atlas tracking ...`."""

import sys

from latent_atlas.commands import main

sys.exit(main(["tracking", *sys.argv[1:]]))

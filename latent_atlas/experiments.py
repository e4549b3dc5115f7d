"""`python -m latent_atlas.experiments`: DVC's experiments as one readable table (latent_atlas.report.experiments)."""

import sys

from latent_atlas.report.experiments import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m latent_atlas.tracking init|check`."""

import sys

from latent_atlas.tracking.runs import main

sys.exit(main())

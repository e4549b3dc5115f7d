"""`python -m latent_atlas.replicates`: intervals and verdicts over seeds (latent_atlas.report.replicates)."""

from latent_atlas.report.replicates import main

if __name__ == "__main__":
    main()

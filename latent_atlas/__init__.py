"""latent-atlas: a reproducible DVC + MLflow pipeline for studying what autoencoders learn."""

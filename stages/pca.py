"""Stage pca: PCA by hand on the standardized population, checked against scikit-learn; what study 000
reads from it (raw against standardized), also for the study's own generator seed."""

import pandas as pd

from latent_atlas import paths
from latent_atlas.analysis import plots
from latent_atlas.analysis.pca import (
    check_against_sklearn,
    pca_by_hand,
    population_reading,
    standardize,
)
from latent_atlas.cli import run_stage
from latent_atlas.data.population import COLUMNS, STUDY_SEED, make_population
from latent_atlas.io import write_json, write_text


def main(args, params):
    people = pd.read_csv(paths.POPULATION)
    x = standardize(people.to_numpy(dtype=float))
    k = params.pca.n_components
    result = pca_by_hand(x, k)
    check_against_sklearn(x, result)  # raises, failing the stage, on disagreement

    projected = pd.DataFrame(result.projected, columns=[f"PC{i + 1}" for i in range(k)])
    write_text(paths.PCA_PROJECTED, projected.to_csv(index=False))
    metrics = {
        "n_components": k,
        "eigenvalues": result.eigenvalues.tolist(),
        "explained_ratio": result.explained_ratio.tolist(),
        "cumulative_ratio": result.cumulative_ratio.tolist(),
        "kept_variance": float(result.cumulative_ratio[k - 1]),
        "matches_sklearn": True,
        **population_reading(people.to_numpy(dtype=float), COLUMNS),
    }
    study = population_reading(make_population(len(people), STUDY_SEED).to_numpy(dtype=float), COLUMNS)
    metrics["study_seed"] = {"seed": STUDY_SEED, **{key: study[key] for key in
                                                    ("eigenvalues", "n_eigen_above_1", "top3_share")}}
    write_json(paths.PCA_METRICS, metrics)
    plots.save(paths.PCA_PLOTS / "scree.png", plots.scree(result.eigenvalues, "Population PCA: scree"))
    print(f"top {k} components keep {metrics['kept_variance']:.1%} of the variance")


if __name__ == "__main__":
    run_stage(main, __doc__)

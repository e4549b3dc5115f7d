"""Stage population: the synthetic population of the PCA study, as CSV."""

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.population import make_population
from latent_atlas.io import write_text


def main(args, params):
    people = make_population(params.population.n_people, params.seed)
    write_text(paths.POPULATION, people.to_csv(index=False))
    print(f"{len(people)} people -> {paths.POPULATION}")


if __name__ == "__main__":
    run_stage(main, __doc__)

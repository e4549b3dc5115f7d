"""Stage compare: the headline numbers of every variant (metrics/headline.json),
the summary figures (plots/summary/), the rows behind them as DVC plot files
(plots/data/) and the report (reports/summary.md). Variants are found by role
(params `roles`): the sweep, the classifier AE and its z=6 retrain."""


import numpy as np

from latent_atlas import paths
from latent_atlas.analysis import plots
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TEST, load_arrays
from latent_atlas.io import read_json, write_json, write_text
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import run_model
from latent_atlas.models.training import resolve_device
from latent_atlas.report import summary
from latent_atlas.report.generative import generative_sections
from latent_atlas.report.headline import headline_metrics
from latent_atlas.report.plot_data import write_plot_data


def sweep_grid(params):
    images = load_arrays(paths.MNIST).subset(TEST)[0][: params.compare.n_digits]
    device = resolve_device(params.train.device)
    grid_rows, names = [images / 255.0], ["original"]
    for name in params.roles.vanilla_sweep:
        ckpt = load_checkpoint(paths.checkpoint(name))
        grid_rows.append(run_model(ckpt.build(), images, ckpt.input_range, device)["reconstructions"])
        names.append(f"z={ckpt.model_config['latent_dim']}")
    plots.save(paths.SUMMARY_PLOTS / "sweep_grid.png",
               plots.image_rows(grid_rows, names, "Vanilla AE: the same test digits by latent size"))


def summary_figures(params, analyses, details, baseline):
    out = paths.SUMMARY_PLOTS
    pca = {int(v["latent_dim"]): v["test_mse"] for v in baseline["pca"].values()}
    members = params.roles.vanilla_sweep
    sweep = sorted((analyses[n]["latent_dim"], analyses[n]["test_mse"]) for n in members)
    models = [(n, m["latent_dim"], m["test_mse"]) for n, m in analyses.items() if n not in members]
    plots.save(out / "mse_vs_latent.png", plots.mse_vs_latent(
        pca, models, sweep, "Test MSE against latent size: PCA and the autoencoders"))
    plots.save(out / "cumulative_variance.png", plots.curves(
        {n: (np.arange(1, len(d["explained_ratio"]) + 1), np.cumsum(d["explained_ratio"]))
         for n, d in details.items()},
        "Cumulative variance of the test codes", "principal directions", "share of variance", logx=True))
    plots.save(out / "noise_recon.png", plots.curves(
        {n: (d["noise_std"], d["noise_recon_mse"]) for n, d in details.items()},
        "Reconstruction error of noisy test images", "noise std", "MSE against the clean image [0,1]",
        logx=True))
    roles = params.roles
    shown = {n: details[n]["eigenvalues"] for n in (roles.classifier_ae, roles.classifier_ae_reduced) if n in details}
    threshold = next((d.get("eigen_threshold") for d in details.values()), None)
    plots.save(out / "eigen_reading.png", plots.spectra(
        {f"{n} (z={analyses[n]['latent_dim']})": e for n, e in shown.items()},
        "Latent spectra: the study's eigenvalue reading", threshold))


def main(args, params):
    analyses = {name: read_json(paths.analysis(name)) for name in params.variants}
    details = {name: read_json(paths.analysis_details(name)) for name in params.variants}
    baseline = read_json(paths.BASELINE_METRICS)
    train = {name: read_json(paths.train_metrics(name)) for name in params.variants}
    rows = [summary.summary_row(name, variant.arch, analyses[name], train[name])
            for name, variant in params.variants.items()]

    sweep_grid(params)
    summary_figures(params, analyses, details, baseline)
    write_plot_data(params, analyses, details, baseline)

    roles = params.roles
    reading_lines, verdict = summary.reading_section(roles.classifier_ae, roles.classifier_ae_reduced, analyses,
                                                     details)
    first = next(iter(details.values()), {})
    example = roles.classifier_ae if roles.classifier_ae in analyses else next(iter(analyses), None)
    drawn = details[example].get("traversal_images", []) if example else []
    sections = [
        "The studies' claims, one by one, with this run's numbers: [claims.md](claims.md).", "",
        *reading_lines,
        *summary.baseline_section(baseline, analyses),
        *summary.clustering_section(analyses),
        *summary.spectrum_section(analyses, first.get("eigen_threshold")),
        *summary.robustness_section(analyses, first.get("noise_view_std")),
        *summary.traversal_section(analyses, example, drawn, details[example].get("traversal_values", [])
                                  if example else []),
        *summary.dci_section(analyses, example),
        *generative_sections(analyses),
        *summary.figures_section(list(analyses), drawn),
    ]
    headline = headline_metrics(analyses)
    if verdict is not None:
        headline["eigen_reading"] = {k: v for k, v in verdict.items() if v is not None}
    write_json(paths.HEADLINE_METRICS, headline)
    write_text(paths.SUMMARY_REPORT, summary.summary_markdown(rows, read_json(paths.MNIST_INFO), sections))
    print(f"summary of {len(rows)} variants -> {paths.SUMMARY_REPORT}")


if __name__ == "__main__":
    run_stage(main, __doc__)

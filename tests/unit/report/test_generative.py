"""The report's VAE-family sections list every variant that has the numbers, and only those."""

from __future__ import annotations

from latent_atlas.report.generative import (
    disentanglement_section,
    likelihood_section,
    samples_section,
    sparsity_section,
)


def samples(source: str, fid: float) -> dict:
    return {f"samples_{source}_fid": fid, f"samples_{source}_confidence": 0.9,
            f"samples_{source}_class_entropy": 2.3, f"samples_{source}_missing_classes": 0}


PLAIN = {"latent_dim": 16, "test_mse": 0.02, "mig": 0.01, "sap": 0.02, "active_units_per_input": 14.0,
         "unit_selectivity": 0.3, "sparsity_threshold": 0.1, "samples_n": 100, **samples("gauss", 90.0),
         **samples("gmm", 50.0), **samples("test", 2.0)}
VAE = {"latent_dim": 20, "test_mse": 0.01, "mig": 0.03, "sap": 0.1, "active_units_per_input": 18.0,
       "unit_selectivity": 0.2, "sparsity_threshold": 0.1, "samples_n": 100, **samples("prior", 118.0),
       **samples("test", 2.0), "test_neg_elbo": 105.8, "test_recon_bce": 80.2, "test_kl": 25.6,
       "test_nll_iwae": 102.4, "iwae_k": 16, "active_units": 0, "posterior_collapse": 1}


def table_rows(lines: list[str]) -> list[list[str]]:
    """The body rows of the first markdown table, as cells."""
    lines = "\n".join(lines).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|"))
    body = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in line.strip("|").split("|")])
    return body


def test_the_likelihood_table_holds_the_vaes_only_and_nothing_without_one():
    assert likelihood_section({"ae": PLAIN}) == []
    rows = table_rows(likelihood_section({"ae": PLAIN, "vae": VAE}))
    assert [r[0] for r in rows] == ["vae"]
    assert rows[0][2:5] == ["105.80", "80.20", "25.60"] and rows[0][-1] == "0 of 20"


def test_the_samples_table_has_a_row_per_variant_and_source_and_the_real_images_last():
    rows = table_rows(samples_section({"ae": PLAIN, "vae": VAE}))
    assert [(r[0], r[1], r[2]) for r in rows] == [("ae", "gauss", "90.00"), ("ae", "gmm", "50.00"),
                                                  ("vae", "prior", "118.00"), ("(real test images)", "test", "2.00")]


def test_disentanglement_and_sparsity_tables_list_every_variant():
    both = {"ae": PLAIN, "vae": VAE}
    assert [r[0] for r in table_rows(disentanglement_section(both))] == ["ae", "vae"]
    assert [r[2] for r in table_rows(sparsity_section(both))] == ["14.00", "18.00"]

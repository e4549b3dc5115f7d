"""Tests for latent_atlas.analysis.offdomain: MNIST-trained models on photograph patches, known answers."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas.analysis.baseline import fit_pca
from latent_atlas.analysis.offdomain import fraction_unexplained, offdomain_part, pca_fvu


def test_fraction_unexplained_known_answers():
    x = np.random.default_rng(0).random((50, 28, 28))
    mean = np.broadcast_to(x.mean(axis=0), x.shape)
    assert fraction_unexplained(x, x) == 0.0
    assert fraction_unexplained(x, mean) == pytest.approx(1.0)
    # Halfway from the mean image to each image: a quarter of the variance is left.
    assert fraction_unexplained(x, mean + 0.5 * (x - mean)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="all the same"):
        fraction_unexplained(np.ones((5, 28, 28)), np.zeros((5, 28, 28)))


def subspace_images(basis: np.ndarray, n: int, rng) -> np.ndarray:
    """n uint8 (28, 28) images on the affine plane 0.5 + span(basis), inside [0, 1]."""
    coefficients = rng.uniform(-1, 1, size=(n, basis.shape[1]))
    flat = 0.5 + coefficients @ basis.T
    assert flat.min() >= 0 and flat.max() <= 1
    return np.round(flat * 255).astype(np.uint8).reshape(n, 28, 28)


def test_pca_fvu_of_images_on_a_plane_is_zero_at_its_dimension():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(784, 3)))[0]
    fit = fit_pca(subspace_images(basis, 200, rng).reshape(200, -1) / 255.0)
    held_out = subspace_images(basis, 100, rng) / 255.0
    assert pca_fvu(fit, held_out, 3) < 5e-3  # only the 8-bit rounding is left
    assert 0.3 < pca_fvu(fit, held_out, 1) < 0.9
    assert pca_fvu(fit, held_out, 10_000) == pytest.approx(0.0, abs=1e-12)  # capped at every direction


def test_a_code_fitted_to_digits_is_tailored_to_them():
    # "Digits" on one 3-d plane, "photographs" on an orthogonal one; the model projects onto the digits' plane.
    rng = np.random.default_rng(2)
    both = np.linalg.qr(rng.normal(size=(784, 6)))[0]
    digit_basis, photo_basis = both[:, :3], both[:, 3:]
    digits, photos, photos_fit = (subspace_images(b, 300, rng) for b in (digit_basis, photo_basis, photo_basis))

    def tailored(images):
        x = images.reshape(len(images), -1) / 255.0
        return (0.5 + ((x - 0.5) @ digit_basis) @ digit_basis.T).reshape(images.shape), 3

    def identity(images):
        return images / 255.0, 784

    part = offdomain_part({"tailored": tailored, "identity": identity}, digits, photos, photos_fit, shown=4)
    found = part.metrics["variants"]["tailored"]
    assert part.metrics["n_images"] == 300
    # Only the 8-bit rounding is unexplained: (1/255)^2 / 12 against a pixel variance of about 1.3e-3.
    assert found["code_size"] == 3 and found["fvu_mnist"] < 5e-3
    assert found["fvu_offdomain"] == pytest.approx(1.0, abs=0.05)  # the photographs' plane is lost entirely
    assert found["fvu_own_pca"] < 5e-3  # a 3-d PCA of the photographs keeps it
    assert found["offdomain_ratio"] > 100 and found["offdomain_excess"] > 0.9
    assert found["mse_mnist"] < found["mse_offdomain"]
    assert found["offdomain_auroc"] == 1.0  # every photograph's error above every digit's
    # A model that copies its input has nothing unexplained anywhere, so no ratio.
    copied = part.metrics["variants"]["identity"]
    assert copied["fvu_mnist"] == copied["fvu_offdomain"] == 0.0 and "offdomain_ratio" not in copied
    assert copied["offdomain_auroc"] == 0.5  # all errors tie
    rows = part.drawings["reconstructions.png"].data
    assert rows["row_names"] == ["photographs", "tailored", "identity"]
    assert [len(r) for r in rows["rows"]] == [4, 4, 4]

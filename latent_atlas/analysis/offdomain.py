"""Off-domain reconstruction: is an MNIST-trained autoencoder "a learned compression scheme tailored to
specific types of data" (study 002)?

Each variant reconstructs MNIST test digits and photograph patches
(latent_atlas.data.offdomain). Errors on two kinds of images compare as
fractions of variance unexplained (FVU: the squared error over the squared
deviation from that set's mean image; 0 is perfect, 1 is no better than the
mean image), since photographs and digits differ in contrast. Two readings:

- the ratio FVU(photographs) / FVU(digits): above 1, the code serves digits
  better than photographs;
- the excess of FVU(photographs) over a PCA of the same size fitted on other
  patches of the photographs: above 0, a code fitted to the photographs
  themselves does better, so the autoencoder's code is the digits' own and
  not a general-purpose compressor.

The AUROC of each image's reconstruction error, photographs against digits,
says how well the error flags images of another kind (study 002's outliers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.baseline import PCAFit, fit_pca
from latent_atlas.analysis.oneclass import auroc
from latent_atlas.analysis.parts import Drawing, Part

# (n, 28, 28) uint8 images -> ((n, 28, 28) reconstructions in [0, 1], the code size).
Reconstructor = Callable[[np.ndarray], tuple[np.ndarray, int]]
# Photograph patches scored (and as many MNIST test digits, and as many other patches for their own
# PCA): an FVU averages 784 pixels an image, so a thousand images fix it to about a percent.
N_IMAGES = 1000
# Side in pixels of the window cut from a photograph and shrunk to 28x28: a stroke-sized detail.
WINDOW = 56


def fraction_unexplained(images01: np.ndarray, reconstructions01: np.ndarray) -> float:
    """sum (x - x_hat)^2 / sum (x - mean image)^2 over a set of images."""
    x = np.asarray(images01, dtype=np.float64).reshape(len(images01), -1)
    x_hat = np.asarray(reconstructions01, dtype=np.float64).reshape(x.shape)
    spread = float(np.sum((x - x.mean(axis=0)) ** 2))
    if spread == 0:
        raise ValueError("the images are all the same: a fraction of variance unexplained needs variance")
    return float(np.sum((x - x_hat) ** 2)) / spread


def pca_fvu(fit: PCAFit, images01: np.ndarray, k: int) -> float:
    """FVU of `images01` under the rank-k code of a PCA (fitted on other images of the same kind)."""
    flat = images01.reshape(len(images01), -1)
    return fraction_unexplained(flat, fit.decode(fit.encode(flat, min(k, fit.components.shape[1]))))


def offdomain_part(reconstructors: Mapping[str, Reconstructor], digits: np.ndarray, photos: np.ndarray,
                   photos_fit: np.ndarray, *, shown: int = 8) -> Part:
    """Per variant, MSE and FVU of uint8 digits and photograph patches, and the patches' own PCA of the
    variant's code size fitted on `photos_fit`; a figure of the first `shown` patches and their reconstructions."""
    digits01, photos01 = digits / 255.0, photos / 255.0
    own = fit_pca((photos_fit / 255.0).reshape(len(photos_fit), -1))
    variants, rows, names = {}, [photos01[:shown]], ["photographs"]
    for name, reconstruct in reconstructors.items():
        on_digits, _ = reconstruct(digits)
        on_photos, code_size = reconstruct(photos)
        fvu_digits, fvu_photos = fraction_unexplained(digits01, on_digits), fraction_unexplained(photos01, on_photos)
        fvu_own = pca_fvu(own, photos01, code_size)
        errors = [np.mean((recon - x) ** 2, axis=(1, 2)) for recon, x in ((on_digits, digits01), (on_photos, photos01))]
        variants[name] = {"code_size": code_size,
                          "mse_mnist": float(np.mean(errors[0])), "mse_offdomain": float(np.mean(errors[1])),
                          "fvu_mnist": fvu_digits, "fvu_offdomain": fvu_photos, "fvu_own_pca": fvu_own,
                          "offdomain_excess": fvu_photos - fvu_own,
                          "offdomain_auroc": auroc(np.repeat([False, True], [len(digits), len(photos)]),
                                                   np.concatenate(errors))}
        if fvu_digits > 0:  # a model that copies the digits exactly has no ratio
            variants[name]["offdomain_ratio"] = fvu_photos / fvu_digits
        rows.append(on_photos[:shown])
        names.append(name)
    drawing = Drawing(plots.image_rows, "photograph patches and each variant's reconstructions",
                      {"rows": rows, "row_names": names})
    return Part(metrics={"n_images": len(photos), "variants": variants},
                drawings={"reconstructions.png": drawing})

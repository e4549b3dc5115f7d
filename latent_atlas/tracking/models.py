"""Models in MLflow: the DVC checkpoint logged as an MLflow model, and loaded back safely.

The model is the checkpoint file itself (tensors and plain values, read with
`torch.load(weights_only=True)`) inside an MLflow model directory whose
MLmodel records the file's sha256. Loading checks that digest and rebuilds
the network with this project's classes: nothing from the store is unpickled
or imported.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import yaml
from mlflow.models import Model, ModelSignature
from mlflow.tracking._tracking_service import utils
from mlflow.types import Schema, TensorSpec

from latent_atlas.errors import TrackingError
from latent_atlas.models.checkpoint import load_checkpoint

MODEL_FLAVOR = "latent_atlas"
MODEL_FILE = "checkpoint.pt"


def model_signature(checkpoint_path: Path):
    """Images (n, 1, 28, 28) float32 in the variant's input range -> its latents."""
    latent_dim = int(load_checkpoint(checkpoint_path).model_config["latent_dim"])
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 1, 28, 28), "images")]),
                          outputs=Schema([TensorSpec(np.dtype("float32"), (-1, latent_dim), "latent")]))


class _CheckpointFlavor:
    """MLflow's model-flavor protocol (save_model), for Model.log."""

    @staticmethod
    def save_model(path, mlflow_model, checkpoint_path, signature=None, **_):
        path = Path(path)
        mlflow_model.signature = signature
        path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkpoint_path, path / MODEL_FILE)
        mlflow_model.add_flavor(MODEL_FLAVOR, file=MODEL_FILE, sha256=sha256_file(path / MODEL_FILE),
                                loader="latent_atlas.tracking.runs.load_model")
        mlflow_model.save(str(path / "MLmodel"))


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def log_model(checkpoint_path: Path):
    """Log the DVC checkpoint as an MLflow model (with a signature) in the active run."""
    return Model.log(None, _CheckpointFlavor, name="model", flavor_name=MODEL_FLAVOR,
                     checkpoint_path=Path(checkpoint_path), signature=model_signature(checkpoint_path))


@contextmanager
def _using_store(uri: str | None) -> Iterator[None]:
    """Resolve runs:/ and models:/ URIs against `uri`, then restore the previous store."""
    if uri is None:
        yield
        return
    previous = utils._tracking_uri
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def load_model(model_uri: str, store_uri: str | None = None):
    """Load a model that log_model logged (runs:/<run_id>/model or models:/<id>).

    Checks the file against the sha256 its MLmodel records, reads it with
    torch.load(weights_only=True) and rebuilds the network with this
    project's classes: nothing from the store is unpickled or imported, and
    sys.path is untouched. Returns the model in eval mode, on the CPU.
    """
    with _using_store(store_uri), tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp))
        try:
            flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"][MODEL_FLAVOR]
        except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise TrackingError(f"{model_uri} is not a latent-atlas model (no {MODEL_FLAVOR} flavor in its "
                                f"MLmodel: {type(exc).__name__}); log it with tracking.log_model") from None
        weights = local / flavor["file"]
        actual = sha256_file(weights)
        if actual != flavor["sha256"]:
            raise TrackingError(f"{model_uri}: {flavor['file']} has sha256 {actual[:12]}..., but its MLmodel "
                                f"records {flavor['sha256'][:12]}...: the artifact was modified; not loading it")
        return load_checkpoint(weights).build().eval()

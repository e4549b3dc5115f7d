"""Models in MLflow: each variant's DVC checkpoint as an MLflow pyfunc model, loaded back safely.

The model is logged with MLflow's models-from-code: the code is the short
file encoder_model.py (copied into the model, run at load), the weights the
DVC checkpoint itself (tensors and plain values) as an artifact whose sha256
the model's config records. Nothing is pickled, so `mlflow.pyfunc.load_model`,
`mlflow models serve` and `mlflow.models.evaluate` work with
MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false.

Both ways of loading take the same path: check the checkpoint against the
recorded sha256, read it with `torch.load(weights_only=True)`, rebuild the
network with this project's classes (verified_checkpoint). The pyfunc model
maps images (n, 1, 28, 28), float32 pixels in [0, 1], to the variant's codes
(n, z): every variant takes the same input, whatever range it trained on.
`load_model` gives the whole network (encode, decode, the classifier head)
and runs nothing from the store.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import torch
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.tracking._tracking_service import utils
from mlflow.types import Schema, TensorSpec

from latent_atlas.errors import TrackingError
from latent_atlas.models.checkpoint import Checkpoint, load_checkpoint
from latent_atlas.models.inference import encoder_fn

MODEL_NAME = "model"  # the LoggedModel's name, and the path in runs:/<run id>/model
MODEL_CODE = Path(__file__).with_name("encoder_model.py")
CHECKPOINT_ARTIFACT = "checkpoint"  # the key of the checkpoint in the model's artifacts
IMAGE_SHAPE = (1, 28, 28)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def model_signature(latent_dim: int) -> ModelSignature:
    """(n, 1, 28, 28) float32 pixels in [0, 1] -> (n, latent_dim) float32 codes.

    Unnamed tensors: MLflow then hands predict the array itself, and checks
    its dtype and shape before (a mismatch is MLflow's schema error).
    """
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, *IMAGE_SHAPE))]),
                          outputs=Schema([TensorSpec(np.dtype("float32"), (-1, latent_dim))]))


def requirements() -> list[str]:
    """What the model needs, pinned; given so MLflow does not infer them (4-6 s a model).

    latent-atlas itself is listed: the model code imports its classes from the
    environment (`mlflow models serve --env-manager local` in the project's).
    """
    return [f"{name}=={version(name)}" for name in ("mlflow", "torch", "numpy", "latent-atlas")]


def verified_checkpoint(path: Path, expected_sha256: str, where: str) -> Checkpoint:
    """The checkpoint at `path` if its sha256 is the recorded one (TrackingError naming it otherwise)."""
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise TrackingError(f"{where}: {path.name} has sha256 {actual[:12]}..., but the model records "
                            f"{str(expected_sha256)[:12]}...: the artifact was modified; not loading it")
    return load_checkpoint(path)


def encode_pixels(model, input_range: str, pixels: np.ndarray) -> np.ndarray:
    """(n, 1, 28, 28) pixels in [0, 1] -> (n, z) float32 codes, on the CPU."""
    x = np.asarray(pixels)
    if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        # MLflow's schema checks dtype and shape only; 0-255 pixels would give codes silently wrong.
        raise MlflowException(f"pixels must be finite and in [0, 1]; got values in [{np.nanmin(x):g}, "
                              f"{np.nanmax(x):g}] (divide 8-bit images by 255)", INVALID_PARAMETER_VALUE)
    return encoder_fn(model, input_range, torch.device("cpu"))(x[:, 0]).astype(np.float32)


class LatentEncoder(PythonModel):
    """A variant's encoder as an MLflow pyfunc: images in, codes out."""

    def load_context(self, context) -> None:
        path = Path(context.artifacts[CHECKPOINT_ARTIFACT])
        ckpt = verified_checkpoint(path, context.model_config["checkpoint_sha256"], "MLflow model")
        self.model, self.input_range = ckpt.build(), ckpt.input_range

    # The hint (np.ndarray) tells MLflow to validate against the signature, not the hint.
    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        return encode_pixels(self.model, self.input_range, model_input)


def log_model(checkpoint_path: Path, input_example: np.ndarray | None = None):
    """Log the DVC checkpoint as a pyfunc model of the active run; returns MLflow's ModelInfo."""
    checkpoint_path = Path(checkpoint_path)
    ckpt = load_checkpoint(checkpoint_path)
    # MLflow also logs the model's config as run params: only what the run has no other value for.
    config = {"checkpoint_sha256": sha256_file(checkpoint_path)}
    return mlflow.pyfunc.log_model(
        name=MODEL_NAME, python_model=str(MODEL_CODE), artifacts={CHECKPOINT_ARTIFACT: str(checkpoint_path)},
        model_config=config, signature=model_signature(int(ckpt.model_config["latent_dim"])),
        input_example=input_example, pip_requirements=requirements())


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
    """The network of a model log_model logged (runs:/<run_id>/model, models:/<id>, models:/<name>@<alias>).

    Reads the model's MLmodel file and its checkpoint only: checks the sha256,
    torch.load(weights_only=True), this project's classes. Nothing from the
    store is unpickled, imported or run, and sys.path is untouched. Returns
    the model in eval mode, on the CPU.
    """
    with _using_store(store_uri), tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp))
        try:
            flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
            relative = flavor["artifacts"][CHECKPOINT_ARTIFACT]["path"]
            expected = flavor["config"]["checkpoint_sha256"]
        except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise TrackingError(f"{model_uri} is not a latent-atlas model (its MLmodel has no checkpoint "
                                f"artifact and digest: {type(exc).__name__}); log it with tracking.models.log_model"
                                ) from None
        return verified_checkpoint(local / relative, expected, model_uri).build().eval()

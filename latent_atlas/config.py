"""Typed, validated view of params.yaml.

Every stage validates the whole file before doing any work, so a typo or an
impossible value stops the pipeline with one line that names the key, the value
and what is allowed, instead of a traceback halfway through a training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]


class ConfigError(ValueError):
    """A params.yaml problem, phrased for the user in one line."""


class _Section(BaseModel):
    # strict: "16" is not a latent size; forbid: an unknown key is a typo.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataParams(_Section):
    source: Literal["auto", "download", "local", "bundled"] = "auto"
    local_dir: str = "../shared/datasets/mnist"
    limit: PositiveInt | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0


class PopulationParams(_Section):
    n_people: Annotated[int, Field(strict=True, ge=3)] = 500


class PCAParams(_Section):
    n_components: PositiveInt = 3


class TrainParams(_Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cuda_graph: Literal["auto", "on", "off"] | bool = "auto"
    compile_cpu: bool = False


ARCHES = ("classifier_mlp", "mlp", "small_conv", "spatial_conv")


class VariantParams(_Section):
    arch: Literal["classifier_mlp", "mlp", "small_conv", "spatial_conv"]
    # None: follow the top-level latent_dim (the classifier AE does).
    latent_dim: PositiveInt | None = None
    hidden: list[PositiveInt] = Field(default_factory=list)
    head_hidden: list[PositiveInt] = Field(default_factory=list)
    output: Literal["sigmoid", "tanh"] = "sigmoid"
    input_range: Literal["unit", "symmetric"] = "unit"
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: Annotated[float, Field(gt=0, le=10)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0, le=1)] = 0.0
    batch_size: PositiveInt = 64
    epochs: PositiveInt = 10
    val_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    class_weight: Annotated[float, Field(ge=0)] = 1.0

    @model_validator(mode="after")
    def _consistent(self) -> VariantParams:
        if self.arch == "spatial_conv" and self.latent_dim not in (None, 256):
            raise ValueError(
                f"latent_dim={self.latent_dim} is not allowed for arch spatial_conv: "
                "its 64x2x2 bottleneck fixes the latent size at 256 (omit latent_dim)"
            )
        if self.arch in ("mlp", "classifier_mlp") and not self.hidden:
            raise ValueError(f"hidden=[] is not allowed for arch {self.arch}: give at least one width")
        if self.arch == "classifier_mlp" and not self.head_hidden:
            raise ValueError("head_hidden=[] is not allowed for arch classifier_mlp")
        if (self.output == "tanh") != (self.input_range == "symmetric"):
            raise ValueError(
                f"output={self.output} with input_range={self.input_range} is not allowed: "
                "tanh pairs with symmetric ([-1,1]) inputs, sigmoid with unit ([0,1])"
            )
        return self


class AnalyzeParams(_Section):
    kmeans_seeds: PositiveInt = 10
    n_recon: Annotated[int, Field(strict=True, ge=1, le=64)] = 10


class CompareParams(_Section):
    # The variants whose reconstructions form the sweep grid, one row each.
    sweep: list[str] = Field(default_factory=list)
    n_digits: Annotated[int, Field(strict=True, ge=1, le=32)] = 10


class Params(_Section):
    seed: NonNegativeInt = 42
    latent_dim: PositiveInt = 16
    data: DataParams = DataParams()
    population: PopulationParams = PopulationParams()
    pca: PCAParams = PCAParams()
    train: TrainParams = TrainParams()
    variants: dict[str, VariantParams] = Field(default_factory=dict)
    analyze: AnalyzeParams = AnalyzeParams()
    compare: CompareParams = CompareParams()

    @model_validator(mode="after")
    def _check_cross_references(self) -> Params:
        unknown = [name for name in self.compare.sweep if name not in self.variants]
        if unknown:
            raise ValueError(
                f"compare.sweep names {unknown}, which are not variants; "
                f"allowed: {', '.join(sorted(self.variants))}"
            )
        if self.pca.n_components > 6:
            raise ValueError(
                f"pca.n_components={self.pca.n_components} is not allowed: "
                "the population has 6 columns, so use 1..6"
            )
        return self

    def variant(self, name: str) -> VariantParams:
        if name not in self.variants:
            raise ConfigError(
                f"variant {name!r} is not in params.yaml; allowed: {', '.join(sorted(self.variants))}"
            )
        return self.variants[name]

    def latent_dim_of(self, name: str) -> int:
        """The latent size a variant trains with (its own, or the top-level one)."""
        v = self.variant(name)
        if v.arch == "spatial_conv":
            return 256
        return v.latent_dim if v.latent_dim is not None else self.latent_dim


def _user_key(loc: tuple, raw: Any) -> str:
    """The dotted key as the user wrote it: pydantic appends union-member names
    to locations, so walk the raw mapping and stop where it stops."""
    parts, node = [], raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, dict):
            parts.append(str(part))  # a missing or unknown key: name it and stop
            break
        else:
            break
        parts.append(str(part))
    return ".".join(parts)


def _describe(error: dict[str, Any], raw: Any, source: str) -> str:
    """One line: the dotted key, the value found and what is allowed."""
    key = _user_key(error["loc"], raw)
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{source}: unknown key {key!r}; check its spelling against the documented keys in params.yaml"
    if error["type"] == "missing":
        return f"{source}: {key} is missing; it is required"
    if error["type"] == "value_error":
        # A cross-field check: its message already names the values.
        return f"{source}: {key or 'top level'}: {msg}"
    return f"{source}: {key}={error.get('input')!r} is not allowed: {msg}"


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a parsed params mapping; raise ConfigError with one line."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], raw, source)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run from the project root") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_params(raw if raw is not None else {}, str(path))


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b": value}, the form MLflow params take."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat

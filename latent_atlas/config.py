"""Typed, validated view of params.yaml.

Every stage validates the whole file before doing any work, so a typo or an
impossible value stops the pipeline with one line that names the key, the value
and what is allowed, instead of a traceback halfway through a training run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from latent_atlas.arch import (
    ARCHES,
    CLASSIFIER_ARCHES,
    HIDDEN_ACTIVATIONS,
    MLP_ARCHES,
    OUTPUT_ACTIVATIONS,
    VARIATIONAL_ARCHES,
    fixed_latent_dim,
    mlp_parameter_count,
)
from latent_atlas.errors import ConfigError

PositiveInt = Annotated[int, Field(strict=True, ge=1)]
NonNegativeInt = Annotated[int, Field(strict=True, ge=0)]
# Caps far above any sensible run: past them a value is a typo, and torch would
# fail with an allocation error or a traceback instead of a clear message.
LayerWidth = Annotated[int, Field(strict=True, ge=1, le=65536)]
# A float that must be a real number: YAML's .inf and .nan parse as floats, and
# an infinite value only fails deep in a stage. Every section already rejects
# them (allow_inf_nan below); use this type for floats validated elsewhere.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

# Total weights of one autoencoder. With Adam's two moments and the gradients a
# weight costs 16 bytes, so this is about 0.8 GB before activations; the
# studies' largest model has about 220k. Only the MLP archs can grow past it
# (the conv archs are fixed but for the latent size, whose cap bounds them).
MAX_PARAMETERS = 50_000_000
# Variant and recipe names become file names, DVC stage names and params keys.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Keys that sit beside the variant names in compare's outputs and MLflow runs.
RESERVED_NAMES = frozenset({"eigen_reading", "pca", "pca_baseline", "baseline", "summary", "headline"})
# The fewest images per split (data.limit) the pipeline runs on. The analyses
# need 20 test images (the traversal images 12 and 19; 10 k-means clusters),
# and t-SNE's neighbour graph 3 x perplexity points (90 at the default 30).
MIN_ROWS_PER_SPLIT = 100


class _Section(BaseModel):
    # strict: "16" is not a latent size; forbid: an unknown key is a typo;
    # no inf/nan: "must be a finite number" instead of a failed comparison.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class DataParams(_Section):
    source: Literal["auto", "download", "local", "bundled"] = "auto"
    local_dir: str = "../shared/datasets/mnist"
    limit: Annotated[int, Field(strict=True, ge=MIN_ROWS_PER_SPLIT)] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0


class PopulationParams(_Section):
    n_people: Annotated[int, Field(strict=True, ge=3)] = 500


class PCAParams(_Section):
    n_components: PositiveInt = 3


class JudgeParams(_Section):
    """The fixed pixel-space digit classifier every variant's images are judged by (models/judge.py)."""

    epochs: Annotated[int, Field(strict=True, ge=1, le=1000)] = 2
    batch_size: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 128
    lr: Annotated[float, Field(gt=0, le=10)] = 1e-3


class TrainParams(_Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cuda_graph: Literal["auto", "on", "off"] | bool = "auto"
    compile_cpu: bool = False


IMAGE_SIDE = 28


class CorruptionParams(_Section):
    """What training hides from the input; the target stays the clean image.

    Denoising: Gaussian pixel noise (noise_std, on [0,1] pixels, clamped back
    to [0,1]) and masking noise (mask_ratio: each pixel set to 0 with this
    probability), Vincent et al. (2008, 2010). Masked pre-training: each
    patch_size x patch_size patch hidden (set to 0) with probability
    patch_mask_ratio, in the spirit of He et al. (2022)'s masked autoencoders.
    """

    noise_std: Annotated[FiniteFloat, Field(gt=0, le=10)] | None = None
    mask_ratio: Annotated[FiniteFloat, Field(gt=0, lt=1)] | None = None
    patch_mask_ratio: Annotated[FiniteFloat, Field(gt=0, lt=1)] | None = None
    patch_size: Annotated[int, Field(strict=True, ge=1, le=IMAGE_SIDE)] = 4

    @model_validator(mode="after")
    def _consistent(self) -> CorruptionParams:
        if IMAGE_SIDE % self.patch_size:
            raise ValueError(f"patch_size={self.patch_size} is not allowed: it must divide {IMAGE_SIDE} "
                             "(1, 2, 4, 7, 14 or 28)")
        if self.noise_std is None and self.mask_ratio is None and self.patch_mask_ratio is None:
            raise ValueError("corruption hides nothing: give noise_std, mask_ratio or patch_mask_ratio "
                             "(or drop the corruption key)")
        return self


class RecipeParams(_Section):
    """A study's recipe: everything a variant needs but, optionally, its latent size."""

    arch: Literal[ARCHES]
    # None: follow the top-level latent_dim (the classifier AE does).
    latent_dim: LayerWidth | None = None
    hidden: list[LayerWidth] = Field(default_factory=list)
    head_hidden: list[LayerWidth] = Field(default_factory=list)
    output: Literal[OUTPUT_ACTIVATIONS] = "sigmoid"
    # Between the hidden layers of the MLP archs (Burda et al. 2015's VAEs use tanh).
    activation: Literal[HIDDEN_ACTIVATIONS] = "relu"
    input_range: Literal["unit", "symmetric"] = "unit"
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: Annotated[float, Field(gt=0, le=10)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0, le=1)] = 0.0
    batch_size: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = 64
    epochs: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 10
    val_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    # Weight of the classifier's NLL against the reconstruction MSE.
    class_weight: Annotated[float, Field(ge=0, le=1000)] = 1.0
    # The VAEs' weight of the KL term (beta-VAE, Higgins et al. 2017); 1 is the plain ELBO.
    beta: Annotated[float, Field(gt=0, le=1e6)] = 1.0
    # Weight of the L1 penalty on the code (mean over images of sum_j |z_j|); 0: none.
    sparsity_weight: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    # Intra-op threads while training on the CPU. One suits the studies' small
    # models (splitting tiny kernels costs more than it saves); wide layers such
    # as the VAE's 784x400 gain from a second (bench/README.md, "Training").
    cpu_threads: Annotated[int, Field(strict=True, ge=1, le=256)] = 1
    # Inputs corrupted during training, clean targets (denoising, masked pre-training).
    corruption: CorruptionParams | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RecipeParams:
        fixed = fixed_latent_dim(self.arch)
        if fixed is not None and self.latent_dim not in (None, fixed):
            raise ValueError(
                f"latent_dim={self.latent_dim} is not allowed for arch {self.arch}: "
                f"its architecture fixes the latent size at {fixed} (omit latent_dim)"
            )
        if self.arch in MLP_ARCHES and not self.hidden:
            raise ValueError(f"hidden=[] is not allowed for arch {self.arch}: give at least one width")
        if self.arch not in MLP_ARCHES and self.activation != "relu":
            raise ValueError(f"activation={self.activation} is not allowed for arch {self.arch}: its layers are "
                             "fixed (omit activation)")
        if self.arch not in MLP_ARCHES and self.hidden:
            raise ValueError(f"hidden={self.hidden} is not allowed for arch {self.arch}: "
                             "its layers are fixed (omit hidden)")
        if self.arch in CLASSIFIER_ARCHES and not self.head_hidden:
            raise ValueError(f"head_hidden=[] is not allowed for arch {self.arch}")
        if self.arch not in CLASSIFIER_ARCHES and self.head_hidden:
            raise ValueError(f"head_hidden={self.head_hidden} is not allowed for arch {self.arch}: "
                             f"only {', '.join(CLASSIFIER_ARCHES)} has a classifier head (omit head_hidden)")
        variational = self.arch in VARIATIONAL_ARCHES
        if variational and (self.output, self.input_range) != ("sigmoid", "unit"):
            raise ValueError(f"output={self.output} with input_range={self.input_range} is not allowed for arch "
                             f"{self.arch}: its Bernoulli decoder models [0,1] pixels (sigmoid, unit)")
        if not variational and self.beta != 1.0:
            raise ValueError(f"beta={self.beta} is not allowed for arch {self.arch}: only "
                             f"{', '.join(VARIATIONAL_ARCHES)} have a KL term (omit beta)")
        if variational and self.sparsity_weight:
            raise ValueError(f"sparsity_weight={self.sparsity_weight} is not allowed for arch {self.arch}: "
                             "the L1 code penalty is for the deterministic archs (omit it)")
        if (self.output == "tanh") != (self.input_range == "symmetric"):
            raise ValueError(
                f"output={self.output} with input_range={self.input_range} is not allowed: "
                "tanh pairs with symmetric ([-1,1]) inputs, sigmoid with unit ([0,1])"
            )
        return self


class VariantParams(RecipeParams):
    """One trained model: a recipe's fields, then the variant's own on top."""

    # The recipes.<name> this variant starts from; its own keys override it.
    recipe: str | None = None


class TSNEParams(_Section):
    # Seeded t-SNE of the test latents; null: every test point (the studies' setting).
    max_points: Annotated[int, Field(strict=True, ge=10)] | None = None
    perplexity: Annotated[FiniteFloat, Field(gt=0, le=100)] = 30.0
    # The first 250 iterations are early exaggeration; at least 50 more.
    max_iter: Annotated[int, Field(strict=True, ge=300, le=100_000)] = 750


class NoiseParams(_Section):
    # Gaussian pixel noise (clamped to [0,1]) added to test images.
    stds: list[Annotated[FiniteFloat, Field(gt=0, le=10)]] = Field(
        default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0])
    view_std: Annotated[FiniteFloat, Field(gt=0, le=10)] = 0.5
    max_images: PositiveInt | None = 2000

    @model_validator(mode="after")
    def _consistent(self) -> NoiseParams:
        if not self.stds:
            raise ValueError("stds=[] is not allowed: give at least one noise level")
        if self.view_std not in self.stds:
            raise ValueError(f"view_std={self.view_std} is not allowed: it must be one of stds={self.stds}")
        return self


class TraversalParams(_Section):
    # Grids for these test images, each latent coordinate set to values in [-range, range].
    images: list[NonNegativeInt] = Field(default_factory=lambda: [12, 19])
    range: Annotated[FiniteFloat, Field(gt=0, le=1e6)] = 3.0
    steps: Annotated[int, Field(strict=True, ge=2, le=32)] = 10
    # Grid rows: every latent dim up to this many, else the highest-variance ones.
    max_rows: Annotated[int, Field(strict=True, ge=1, le=64)] = 16
    # Per-dimension effect and consistency over this many test images, for at
    # most max_dims dims (the highest-variance ones when there are more).
    n_images: Annotated[int, Field(strict=True, ge=2, le=100_000)] = 100
    max_dims: Annotated[int, Field(strict=True, ge=1, le=4096)] = 64
    # A dim is dead when its effect is under this fraction of the largest dim's.
    dead_fraction: Annotated[FiniteFloat, Field(ge=0, lt=1)] = 0.1


class AblationParams(_Section):
    # Each of the max_dims highest-variance dims set to its mean alone (and the
    # dead dims together), on max_images seeded test images (null: all).
    max_dims: Annotated[int, Field(strict=True, ge=1, le=4096)] = 16
    # Paired on the same images, 1,000 tell a half-point accuracy loss from none (17 decodes of them).
    max_images: PositiveInt | None = 1000


class ShiftParams(_Section):
    # Test digits moved this many pixels right (each in 1..27), on max_images seeded test images.
    pixels: list[Annotated[int, Field(strict=True, ge=1, le=27)]] = Field(default_factory=lambda: [1, 2, 3])
    max_images: PositiveInt | None = 2000

    @model_validator(mode="after")
    def _consistent(self) -> ShiftParams:
        if not self.pixels or len(set(self.pixels)) != len(self.pixels):
            raise ValueError(f"pixels={self.pixels} is not allowed: give distinct shifts in 1..27")
        return self


class DCIParams(_Section):
    # Every variant's tree ensembles fit on these many training rows (the same
    # seeded rows for all), so D, C and I compare across latent sizes.
    n_train: Annotated[int, Field(strict=True, ge=10, le=1_000_000)] = 1250


class LikelihoodParams(_Section):
    """The VAEs' test likelihood: the ELBO, and the IWAE bound with k importance samples (Burda et al. 2015)."""

    iwae_k: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = 16
    # Burda et al.'s active units: posterior-mean variance over the test set above this.
    active_threshold: Annotated[FiniteFloat, Field(gt=0)] = 0.01


class SamplesParams(_Section):
    """New images from every variant: the prior (VAEs) or densities fitted to the training codes (plain AEs)."""

    n: Annotated[int, Field(strict=True, ge=10, le=1_000_000)] = 2000
    # Components of the Gaussian mixture fitted to a plain AE's training codes (Ghosh et al. 2020: 10).
    gmm_components: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    # The densities are fitted on at most this many seeded training codes.
    fit_max: Annotated[int, Field(strict=True, ge=10, le=10_000_000)] = 10000
    # Latent interpolations between pairs of test codes: rows, and images per row.
    interpolation_pairs: Annotated[int, Field(strict=True, ge=1, le=64)] = 6
    interpolation_steps: Annotated[int, Field(strict=True, ge=2, le=32)] = 10


class MIGParams(_Section):
    # Each code is discretised into this many equal-width bins (disentanglement_lib: 20).
    bins: Annotated[int, Field(strict=True, ge=2, le=1000)] = 20


class SAPParams(_Section):
    # The per-code digit classifiers fit on at most this many training codes.
    n_train: Annotated[int, Field(strict=True, ge=10, le=1_000_000)] = 5000


class SparsityParams(_Section):
    # A unit is active on an input when |z| exceeds this fraction of the code's RMS (scale-free).
    threshold: Annotated[FiniteFloat, Field(gt=0, le=100)] = 0.1


class AnalyzeParams(_Section):
    kmeans_seeds: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    n_recon: Annotated[int, Field(strict=True, ge=1, le=64)] = 10
    # Probes: logistic regression and k-NN fitted on (a seeded subset of) the
    # training latents, scored on the test latents. null: every training latent.
    probe_max_train: PositiveInt | None = 10000
    knn_k: Annotated[int, Field(strict=True, ge=1, le=1000)] = 5
    # The study's reading: count eigenvalues of the latent covariance above this.
    eigen_threshold: Annotated[FiniteFloat, Field(ge=0)] = 10.0
    # Same-digit precision of the 10 nearest code-space neighbours, for this many seeded test queries.
    precision_queries: PositiveInt | None = 2000
    tsne: TSNEParams = TSNEParams()
    noise: NoiseParams = NoiseParams()
    traversal: TraversalParams = TraversalParams()
    ablation: AblationParams = AblationParams()
    shift: ShiftParams = ShiftParams()
    dci: DCIParams = DCIParams()
    likelihood: LikelihoodParams = LikelihoodParams()
    samples: SamplesParams = SamplesParams()
    mig: MIGParams = MIGParams()
    sap: SAPParams = SAPParams()
    sparsity: SparsityParams = SparsityParams()

    @model_validator(mode="after")
    def _consistent(self) -> AnalyzeParams:
        if self.probe_max_train is not None and self.knn_k > self.probe_max_train:
            raise ValueError(f"knn_k={self.knn_k} is not allowed: at most probe_max_train={self.probe_max_train}")
        return self


class RolesParams(_Section):
    """Which variant plays each part of the studies: the claims name variants only by role.

    A role left out (null, or an empty sweep) is absent from the run: the
    claims that read it say "not measured in this run", naming the role.
    """

    classifier_ae: str | None = None
    # The study's retrain of the classifier AE at the size its eigenvalue reading suggested.
    classifier_ae_reduced: str | None = None
    dense_ae: str | None = None
    deep_ae: str | None = None
    small_conv_ae: str | None = None
    spatial_conv_ae: str | None = None
    # The vanilla AE of study 002 at every latent size, one variant each.
    vanilla_sweep: list[str] = Field(default_factory=list)
    # The VAE family and the sparse AE (issue 17): the models the studies name for generation,
    # disentanglement and interpretability.
    vae: str | None = None
    beta_vae: str | None = None
    conv_vae: str | None = None
    sparse_ae: str | None = None
    # Issue 18's: the small conv AE trained noisy -> clean, and with masked patches.
    denoising_ae: str | None = None
    masked_ae: str | None = None

    def one(self, role: str) -> str:
        """The variant that plays `role`, for a stage that cannot run without it."""
        name = getattr(self, role)
        if not isinstance(name, str):
            raise ConfigError(f"roles.{role}={name!r} is not allowed here: name the variant that plays {role}")
        return name

    def assigned(self) -> dict[str, list[str]]:
        """role -> the variants it names, for the roles this run has."""
        out = {}
        for role, value in self:
            names = value if isinstance(value, list) else [value] if value is not None else []
            if names:
                out[role] = names
        return out


class CompareParams(_Section):
    # Test digits per row of the sweep grid (roles.vanilla_sweep, one row per size).
    n_digits: Annotated[int, Field(strict=True, ge=1, le=32)] = 10


class BaselineParams(_Section):
    # PCA on the training images: latent sizes to compare with the autoencoders.
    ks: list[PositiveInt] = Field(default_factory=lambda: [2, 3, 5, 6, 9, 10, 16, 32, 50])
    kmeans_seeds: PositiveInt = 10
    # Morphometric factors for DCI: every test image and this many training images.
    factor_train_n: PositiveInt = 10000
    morpho_scale: Annotated[int, Field(strict=True, ge=1, le=8)] = 4

    @model_validator(mode="after")
    def _consistent(self) -> BaselineParams:
        if not self.ks or len(set(self.ks)) != len(self.ks) or max(self.ks) > 784:
            raise ValueError(f"ks={self.ks} is not allowed: give distinct sizes in 1..784")
        return self


# A Gaussian noise level on [0,1] pixels.
Sigma = Annotated[FiniteFloat, Field(gt=0, le=10)]
Digit = Annotated[int, Field(strict=True, ge=0, le=9)]


class NLMParams(_Section):
    """Non-local means (scikit-image), the classical denoiser the autoencoders are measured against."""

    patch_size: Annotated[int, Field(strict=True, ge=1, le=IMAGE_SIDE)] = 5
    patch_distance: Annotated[int, Field(strict=True, ge=1, le=IMAGE_SIDE)] = 6
    # Its filter strength h = factor x sigma, the factor tuned once per sigma
    # (best PSNR on tune_images training images).
    h_factors: list[Annotated[FiniteFloat, Field(gt=0, le=100)]] = Field(
        default_factory=lambda: [0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3])
    tune_images: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 50

    @model_validator(mode="after")
    def _consistent(self) -> NLMParams:
        if not self.h_factors:
            raise ValueError("h_factors=[] is not allowed: give at least one factor")
        return self


class DenoiseParams(_Section):
    """Denoising: noisy test images, each denoiser's output against the clean image."""

    # Gaussian noise levels on [0,1] pixels (clamped back to [0,1]); the
    # robustness analysis's levels and 0.3, where the README's target is checked too.
    stds: list[Sigma] = Field(default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0])
    # Test images denoised (a seeded subset; null: all): non-local means costs
    # about 1.5 ms per image and sigma on this project's CPU.
    max_images: PositiveInt | None = 1000
    nlm: NLMParams = NLMParams()

    @model_validator(mode="after")
    def _consistent(self) -> DenoiseParams:
        if not self.stds or len(set(self.stds)) != len(self.stds):
            raise ValueError(f"stds={self.stds} is not allowed: give distinct noise levels, at least one")
        return self


def _one_class_model() -> RecipeParams:
    return RecipeParams(arch="small_conv", latent_dim=32, output="sigmoid", input_range="unit", optimizer="adam",
                        lr=1e-3, weight_decay=0.0, batch_size=64, epochs=20)


class AnomalyParams(_Section):
    """One-class anomaly detection, Ruff et al. (2018)'s protocol: one model per normal digit."""

    digits: list[Digit] = Field(default_factory=lambda: list(range(10)))
    # gcn: the paper's global contrast normalisation (L1), then min-max scaling
    # to [0,1] with the normal digit's training min and max; unit: pixels / 255.
    preprocessing: Literal["gcn", "unit"] = "gcn"
    # The conv AE trained on the normal digit's training images (a recipe, written in place).
    model: RecipeParams = Field(default_factory=_one_class_model)
    # Scores: the mean distance to the k nearest training codes, and to the k nearest training images.
    knn_k: Annotated[int, Field(strict=True, ge=1, le=1000)] = 5
    # ROC curves are written at this many evenly spaced false-positive rates.
    roc_points: Annotated[int, Field(strict=True, ge=2, le=10_000)] = 101

    @model_validator(mode="after")
    def _consistent(self) -> AnomalyParams:
        if not self.digits or len(set(self.digits)) != len(self.digits):
            raise ValueError(f"digits={self.digits} is not allowed: give distinct digits 0-9, at least one")
        if self.model.latent_dim is None and fixed_latent_dim(self.model.arch) is None:
            raise ValueError(f"model.latent_dim=None is not allowed for arch {self.model.arch}: give a latent size")
        return self


class MislabelParams(_Section):
    """Mislabel detection: flip a fraction of the training labels, find them by their neighbours."""

    # Share of training labels flipped (seeded), each to one of the nine other digits.
    flip_fraction: Annotated[FiniteFloat, Field(ge=0, lt=0.5)] = 0.05
    # An image's score: the share of its k nearest neighbours whose given label differs from its own.
    k: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    # Training images scored (a seeded subset; null: all).
    max_images: Annotated[int, Field(strict=True, ge=10)] | None = 10000

    @model_validator(mode="after")
    def _consistent(self) -> MislabelParams:
        if self.max_images is not None and self.k >= self.max_images:
            raise ValueError(f"k={self.k} is not allowed: it must be below max_images={self.max_images}")
        return self


class DownstreamParams(_Section):
    """Downstream efficiency: one classifier fitted on codes and on pixels, timed."""

    # Training rows the classifier is fitted on (a seeded subset; null: all).
    max_train: PositiveInt | None = 10000
    # Fits timed per input; the median is reported.
    fit_repeats: Annotated[int, Field(strict=True, ge=1, le=20)] = 3


class Params(_Section):
    seed: Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)] = 42
    latent_dim: LayerWidth = 16
    data: DataParams = DataParams()
    population: PopulationParams = PopulationParams()
    pca: PCAParams = PCAParams()
    train: TrainParams = TrainParams()
    judge: JudgeParams = JudgeParams()
    # Before variants, so a bad value in a recipe is named where it is written.
    recipes: dict[str, RecipeParams] = Field(default_factory=dict)
    variants: dict[str, VariantParams] = Field(default_factory=dict)
    roles: RolesParams = RolesParams()
    analyze: AnalyzeParams = AnalyzeParams()
    compare: CompareParams = CompareParams()
    baseline: BaselineParams = BaselineParams()
    denoise: DenoiseParams = DenoiseParams()
    anomaly: AnomalyParams = AnomalyParams()
    mislabel: MislabelParams = MislabelParams()
    downstream: DownstreamParams = DownstreamParams()

    @model_validator(mode="before")
    @classmethod
    def _apply_recipes(cls, raw: Any) -> Any:
        """Each variant = its recipe's keys, then its own (a malformed file is left to the field checks)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("variants"), dict):
            return raw
        recipes = raw.get("recipes") or {}
        variants = {}
        for name, entry in raw["variants"].items():
            if isinstance(entry, dict) and "recipe" in entry and isinstance(recipes, dict):
                recipe = entry["recipe"]
                if not isinstance(recipe, str) or not isinstance(recipes.get(recipe), dict):
                    raise ValueError(f"variants.{name}.recipe={recipe!r} is not allowed: it must name a "
                                     f"recipe; allowed: {', '.join(sorted(recipes)) or 'none (recipes is empty)'}")
                entry = {**recipes[recipe], **entry}
            variants[name] = entry
        return {**raw, "variants": variants}

    @model_validator(mode="after")
    def _check_cross_references(self) -> Params:
        for section, names in (("recipes", self.recipes), ("variants", self.variants)):
            for name in names:
                if not NAME_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
                    raise ValueError(
                        f"{section}.{name!r} is not allowed as a name: use a letter, then letters, digits or "
                        f"underscores (at most 64), and none of {', '.join(sorted(RESERVED_NAMES))}")
        for name, variant in self.variants.items():
            if variant.arch in MLP_ARCHES:
                n = mlp_parameter_count(self.latent_dim_of(name), variant.hidden, variant.head_hidden,
                                        variational=variant.arch in VARIATIONAL_ARCHES)
                if n > MAX_PARAMETERS:
                    raise ValueError(f"variants.{name}: hidden={variant.hidden} with latent_dim="
                                     f"{self.latent_dim_of(name)} is not allowed: {n:,} weights, "
                                     f"more than the {MAX_PARAMETERS:,} allowed")
            # The training images left after training.split_validation holds out its share.
            if self.data.limit is not None and variant.batch_size > self.data.limit - round(
                    self.data.limit * variant.val_fraction):
                raise ValueError(f"variants.{name}.batch_size={variant.batch_size} is not allowed with "
                                 f"data.limit={self.data.limit}: it is larger than the training images left")
        if self.data.limit is not None and self.mislabel.k >= self.data.limit:
            raise ValueError(f"mislabel.k={self.mislabel.k} is not allowed with data.limit={self.data.limit}: "
                             "it must be below the training images")
        if self.data.limit is not None and self.judge.batch_size > self.data.limit:
            raise ValueError(f"judge.batch_size={self.judge.batch_size} is not allowed with data.limit="
                             f"{self.data.limit}: it is larger than the training images")
        for role, names in self.roles.assigned().items():
            unknown = [name for name in names if name not in self.variants]
            if unknown:
                raise ValueError(
                    f"roles.{role} names {unknown}, which are not variants; "
                    f"allowed: {', '.join(sorted(self.variants)) or 'none (variants is empty)'}"
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
        fixed = fixed_latent_dim(v.arch)
        if fixed is not None:
            return fixed
        return v.latent_dim if v.latent_dim is not None else self.latent_dim


def _user_key(loc: tuple, raw: Any) -> str:
    """The dotted key as the user wrote it: pydantic appends union-member names
    to locations, so walk the raw mapping and stop where it stops."""
    parts, node = [], raw
    for part in loc:
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
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
        return f"{source}: {key}: {msg}" if key else f"{source}: {msg}"
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

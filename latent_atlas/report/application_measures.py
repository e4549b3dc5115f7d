"""What the application claims read: the applications' metrics files (metrics/<name>.json).

Their keys are fixed by the stages (latent_atlas.analysis.denoise, .anomaly,
.mislabel, .downstream): denoise's `sigma_<s>.psnr_<method>` (methods by
role: input, small_conv_ae, denoising_ae, nlm), anomaly's
`mean_auroc_<score>`, and mislabel's and downstream's `pixels.<key>` and
`codes.<variant>.<key>`, which `Codes` reads by role.
"""

from __future__ import annotations

from dataclasses import dataclass

from latent_atlas.report.run_data import Measure, RunData, VariantMeasure, read_path

# A detector one would use ranks 9 in 10 anomaly-normal (or flipped-kept) pairs right.
USABLE_AUROC = 0.9
# The published one-class Deep SVDD's mean AUROC on MNIST (Ruff et al. 2018, Table 1; its rows are
# analysis.anomaly.DEEP_SVDD_PUBLISHED).
DEEP_SVDD_MEAN_AUROC = 0.948


@dataclass(frozen=True)
class Application(Measure):
    """A number of metrics/<name>.json, by its path of keys."""

    name: str
    path: tuple[str, ...]

    def value(self, run: RunData) -> float:
        return float(read_path(run.application(self.name), self.path, f"metrics/{self.name}.json"))

    def reads(self) -> str:
        return f"{self.name} {'.'.join(self.path)}"


@dataclass(frozen=True)
class Codes(VariantMeasure):
    """codes.<the role's variant>.<key> of metrics/<name>.json: a number measured on that variant's codes."""

    name: str
    key: str

    def of(self, run: RunData, variant: str) -> float:
        return float(read_path(run.application(self.name), ("codes", variant, self.key), f"metrics/{self.name}.json"))

    def reads(self) -> str:
        return f"{self.name} {self.key} on the codes of {self.who()}"


@dataclass(frozen=True)
class EachModel(VariantMeasure):
    """variants.<the role's variant>.<key> of metrics/<name>.json: a number measured with that variant's model."""

    name: str
    key: str

    def of(self, run: RunData, variant: str) -> float:
        return float(read_path(run.application(self.name), ("variants", variant, self.key),
                               f"metrics/{self.name}.json"))

    def reads(self) -> str:
        return f"{self.name} {self.key} of {self.who()}"

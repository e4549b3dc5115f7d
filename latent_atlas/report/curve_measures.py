"""Measures of a training curve (metrics/train/<variant>.csv): does it fall, how fast, how close are its two curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_atlas.report.run_data import Measure, Missing, RunData, VariantMeasure


def _losses(run: RunData, name: str, key: str) -> np.ndarray:
    rows = run.history(name)
    if any(row.get(key) is None for row in rows):
        raise Missing(f"the training history of {name} has no {key}")
    return np.array([float(row[key]) for row in rows])


@dataclass(frozen=True)
class CurveRise(VariantMeasure):
    """The largest epoch-over-epoch change of a loss curve (< 0: it fell at every epoch)."""

    key: str = "train_loss"

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, self.key)
        if losses.size < 2:
            raise Missing(f"{name} trained one epoch: its curve has no step")
        return float(np.max(np.diff(losses)))

    def reads(self) -> str:
        return f"largest epoch-over-epoch change of {self.key}, {self.who()}"


@dataclass(frozen=True)
class CurveGap(VariantMeasure):
    """(final validation loss - final training loss) / final validation loss."""

    def of(self, run: RunData, name: str) -> float:
        val, train = _losses(run, name, "val_loss")[-1], _losses(run, name, "train_loss")[-1]
        return float((val - train) / val)

    def reads(self) -> str:
        return f"(final val - train loss) / val loss of {self.who()}"


@dataclass(frozen=True)
class EarlyShare(VariantMeasure):
    """Share of the whole loss drop reached after `epochs` epochs.

    The drop starts at the untrained network's test MSE (untrained_test_mse,
    in [0,1] units; times 4 for a [-1,1] variant, whose losses are in its own
    units), so the first epoch's own drop counts.
    """

    epochs: int = 1

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, "train_loss")
        scale = 4.0 if run.param(f"variants.{name}.input_range") == "symmetric" else 1.0
        start = scale * run.metric(name, "untrained_test_mse")
        if losses.size <= self.epochs or start <= losses[-1]:
            raise Missing(f"{name}'s curve has {losses.size} epochs from {start:.4g} to {losses[-1]:.4g}")
        return float((start - losses[self.epochs - 1]) / (start - losses[-1]))

    def reads(self) -> str:
        return f"share of the loss drop (from the untrained network) after {self.epochs} epoch(s), {self.who()}"


@dataclass(frozen=True)
class DropGrowth(VariantMeasure):
    """The largest growth of the per-epoch loss drop (< 0: every epoch gains less than the one before)."""

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, "train_loss")
        if losses.size < 3:
            raise Missing(f"{name} trained {losses.size} epochs: two drops need three")
        return float(np.max(np.diff(-np.diff(losses))))

    def reads(self) -> str:
        return f"largest growth of the per-epoch loss drop, {self.who()}"


@dataclass(frozen=True)
class EpochsToReach(Measure):
    """Epochs `a` needs minus epochs `b` needs to reach the final training loss of the slower of
    the two (both curves in the same units); > 0: b converges in fewer epochs."""

    a: VariantMeasure
    b: VariantMeasure

    def value(self, run: RunData) -> float:
        curves = [_losses(run, run.variant(m.role, m.z), "train_loss") for m in (self.a, self.b)]
        target = max(c[-1] for c in curves)
        needed = [int(np.argmax(c <= target)) + 1 for c in curves]
        return float(needed[0] - needed[1])

    def reads(self) -> str:
        return f"epochs {self.a.who()} minus epochs {self.b.who()} to reach the slower one's final loss"

    def roles(self) -> set[str]:
        return self.a.roles() | self.b.roles()

"""What an analysis returns: numbers, the lists behind them, and what to draw.

Compute, then draw: every analysis is a pure function from arrays to a
`Part`. Its `metrics` are scalar numbers (metrics/analyze/<variant>.json,
compared by DVC across experiments), its `details` the lists behind them
(metrics/analyze/<variant>.details.json), and its `drawings` a plots function
with its data per figure file. `draw` turns drawings into PNGs in one thin
step, so tests check the numbers and the figures come for free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latent_atlas.analysis import plots


@dataclass(frozen=True)
class Drawing:
    """One figure to draw: a latent_atlas.analysis.plots function, its data, and a title.

    The variant's name is put before the title when it is drawn, so the
    computations need not know which variant they look at.
    """

    plot: Callable[..., Any]
    title: str
    data: dict[str, Any]

    def render(self, name: str):
        return self.plot(**self.data, title=f"{name}: {self.title}")


@dataclass(frozen=True)
class Part:
    """What one analysis returns: scalar metrics, list-valued details, figures to draw (by file name)."""

    metrics: dict[str, float | int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    drawings: dict[str, Drawing] = field(default_factory=dict)


def draw(drawings: Mapping[str, Drawing], name: str, out_dir: Path) -> list[Path]:
    """Render and save every drawing as out_dir/<file name>; the thin step after the maths."""
    return [plots.save(out_dir / filename, drawing.render(name)) for filename, drawing in drawings.items()]

"""Benchmark reading: what families of stages cost in one `dvc repro`, from the stages' own timing lines.

Every stage prints `latent-atlas timing stage=<name> ... total=<seconds>`
(latent_atlas.timing). Given the log of one `dvc repro` (for example the one
bench/make_baseline.py prints), this sums those totals per family and prints
each family's share and its cost over the stages in no family: the figures
of "the new variants add x% to the pipeline", measured in one run.

    python bench/stage_costs.py repro.log \\
        --family "VAE family=vae,beta_vae,conv_vae,sparse" \\
        --family "applications=denoising,masked,oneclass,denoise,anomaly,mislabel,downstream"

A family names variants (matching train@NAME, extract@NAME, analyze@NAME) and
stages (matching NAME or NAME@anything).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

TIMING = re.compile(r"latent-atlas timing stage=(\S+) .*total=([\d.]+)")


def family_of(stage: str, families: dict[str, set[str]]) -> str | None:
    head, _, item = stage.partition("@")
    return next((name for name, members in families.items() if head in members or item in members), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--family", action="append", default=[], metavar="NAME=MEMBER,...")
    args = parser.parse_args()
    families = {}
    for spec in args.family:
        name, _, members = spec.partition("=")
        families[name] = set(members.split(","))
    totals = {m.group(1): float(m.group(2)) for line in args.log.read_text().splitlines()
              if (m := TIMING.match(line))}
    sums = {name: [0.0, 0] for name in [*families, "the rest"]}
    for stage, seconds in totals.items():
        entry = sums[family_of(stage, families) or "the rest"]
        entry[0] += seconds
        entry[1] += 1
    rest = sums["the rest"][0]
    for name, (seconds, count) in sums.items():
        over = f", +{100 * seconds / rest:.1f}% over the rest" if name != "the rest" and rest else ""
        print(f"{name}: {count} stages, {seconds:.1f} s{over}")
    print(f"all: {len(totals)} stages, {sum(totals.values()):.1f} s")


if __name__ == "__main__":
    main()

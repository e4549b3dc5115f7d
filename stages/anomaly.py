"""Stage anomaly: the one-class protocol's table over digits, its ROC curves and their rows.

Reads every digit's scores (stage oneclass) and writes metrics/anomaly.json
(AUROC per digit and averaged), plots/anomaly/roc_<score>.json (ROC rows
{digit, fpr, tpr}, a DVC plot file) and .png, and reports/applications/anomaly.md.
"""

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis.anomaly import ROC_COLUMNS, anomaly_part
from latent_atlas.analysis.oneclass import SCORES
from latent_atlas.analysis.parts import draw
from latent_atlas.cli import run_stage
from latent_atlas.io import read_npz, write_json, write_text
from latent_atlas.plotfiles import write_json_rows
from latent_atlas.report.applications import anomaly_markdown


def main(args, params):
    cfg = params.anomaly
    results = {}
    for digit in cfg.digits:
        found = read_npz(paths.anomaly_scores(digit), required=("is_anomaly", *SCORES))
        results[digit] = (found["is_anomaly"], {name: found[name] for name in SCORES})
    part = anomaly_part(results, cfg.roc_points)
    write_json(paths.ANOMALY_METRICS, part.metrics)
    for name, rows in part.details["roc"].items():
        write_json_rows(paths.ANOMALY_PLOTS / f"roc_{name}.json", rows, ROC_COLUMNS)
    draw(part.drawings, "one-class MNIST", paths.ANOMALY_PLOTS)
    write_text(paths.ANOMALY_REPORT, anomaly_markdown(part.details["table"], part.metrics))
    print(f"one-class AUROC over {len(results)} digits: "
          + ", ".join(f"{name} {part.metrics[f'mean_auroc_{name}']:.4f}" for name in SCORES)
          + f" (published Deep SVDD {np.mean([r['deep_svdd_published'] for r in part.details['table']]):.4f})")


if __name__ == "__main__":
    run_stage(main, __doc__)

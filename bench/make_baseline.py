"""Make the baseline main commits: a default `dvc repro` on full MNIST, made as a user's machine makes it.

The committed params (data.source: auto) download MNIST from the mirrors. This
project's machines have no internet, so the script serves a folder holding the
four MNIST archives on 127.0.0.1 and names it as the mirror, through
LATENT_ATLAS_MNIST_MANIFEST (latent_atlas/data/download.py): the download
stage streams, checks and decompresses the archives as it would from the real
mirror, the IDX files are verified by the same md5s, and metrics/data.json
records source=download. The arrays are byte-identical to a download from the
internet's mirrors (their .gz bytes differ, their content does not), so a
user's own `dvc repro` finds the baseline's data/mnist.npz.

Then `latent-atlas tracking promote` points latent-atlas-<variant>@baseline at
this run's models, and the script prints what to commit: dvc.lock and every
git-tracked output (the `cache: false` metrics and plots), and the flag to
flip in tests/unit/test_baseline_lock.py.

    python bench/make_baseline.py [--mnist ../shared/datasets/mnist] [--repo .] [--only STAGE ...]

(--only download checks the mirror alone: it runs those stages and stops.)

It refuses params that differ from the committed ones: the baseline is the
default pipeline (params.yaml and dvc.yaml as committed, data.limit null).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from latent_atlas.data.download import MANIFEST_ENV, file_md5
from latent_atlas.data.idx import IDX_FILES

BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


def manifest_for(folder: Path, url: str) -> dict:
    """The four archives in `folder` as a mirror at `url`: their own archive md5s,
    and the canonical IDX md5s (the check that the content is MNIST)."""
    files = {}
    for key, (stem, idx_md5) in IDX_FILES.items():
        archive = folder / f"{stem}.gz"
        if not archive.is_file():
            raise SystemExit(f"{archive} is missing: --mnist must name a folder with the four MNIST .gz archives")
        files[key] = {"stem": stem, "archive_md5": file_md5(archive), "idx_md5": idx_md5}
    return {"mirrors": [url], "files": files}


@contextlib.contextmanager
def loopback_mirror(folder: Path):
    """Serve `folder` over plain http on 127.0.0.1 (the download stage allows http to loopback only)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer((LOOPBACK, 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://{LOOPBACK}:{server.server_address[1]}/"
        finally:
            server.shutdown()


def check_defaults(repo: Path) -> None:
    """The baseline is the committed pipeline with its default params, on all of MNIST."""
    changed = subprocess.run(["git", "status", "--porcelain", "--", "params.yaml", "dvc.yaml", ".dvc/plots"],
                             cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    if changed:
        raise SystemExit(f"params.yaml, dvc.yaml or .dvc/plots differ from the commit:\n{changed}\n"
                         "the baseline is the committed pipeline: commit or restore them first")
    data = yaml.safe_load((repo / "params.yaml").read_text())["data"]
    if data.get("source") != "auto" or data.get("limit") is not None:
        raise SystemExit(f"params.yaml has data.source={data.get('source')!r}, data.limit={data.get('limit')!r}; "
                         "the baseline is the default: source auto, limit null")


def run(cmd: list[str], repo: Path, env: dict[str, str]) -> None:
    print(f"$ {shlex.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=repo, env=env, check=True)


def git_tracked_outputs(repo: Path) -> list[str]:
    """Every output dvc.yaml keeps in git (cache: false): what a commit of the baseline holds besides dvc.lock."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return sorted({out.def_path for stage in dvc.index.stages for out in stage.outs if not out.use_cache})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=Path("../shared/datasets/mnist"),
                        help="a folder with the four MNIST .gz archives (default: ../shared/datasets/mnist)")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: .)")
    parser.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages (a check), then stop")
    args = parser.parse_args()
    repo, mnist = args.repo.resolve(), args.mnist.resolve()
    check_defaults(repo)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    start = time.monotonic()
    with loopback_mirror(mnist) as url, tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps(manifest_for(mnist, url)))
        print(f"MNIST mirror: {url} serving {mnist}")
        run([str(BIN / "dvc"), "repro", *(args.only or [])], repo, {**env, MANIFEST_ENV: str(manifest)})
    info = json.loads((repo / "metrics" / "data.json").read_text())
    if (info["source"], info["fallback"], info["n_train"], info["n_test"]) != ("download", False, 60_000, 10_000):
        raise SystemExit(f"metrics/data.json says {info}: not full MNIST from the mirror; not a baseline")
    if args.only:
        print(f"{' '.join(args.only)}: done in {time.monotonic() - start:.0f} s; full MNIST from the mirror "
              f"(sha256 {info['checksum_sha256'][:12]}). Not a baseline: run without --only for one.")
        return
    run([sys.executable, "-m", "latent_atlas.tracking", "promote"], repo, env)
    print(f"\nbaseline made in {time.monotonic() - start:.0f} s. To commit it:\n")
    print(f"  git add dvc.lock {' '.join(git_tracked_outputs(repo))}")
    print("  # and set BASELINE_REQUIRED = True in tests/unit/test_baseline_lock.py")
    print("  git commit -m 'Baseline: the default pipeline on full MNIST'")
    print("  dvc push   # with a DVC remote: the models and arrays a clone's `dvc pull` fetches")


if __name__ == "__main__":
    main()

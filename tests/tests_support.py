"""Helpers shared by the tests (importable, unlike conftest.py; holds no tests).

- a tiny, real copy of the project in a temporary git repository (tiny_params,
  make_repo, Repo);
- loopback-only network fixtures: a free port, a server that accepts and never
  answers, one that answers a byte at a time, one that speaks no HTTP;
- a real `mlflow server` process, a scratch copy of the stage scripts, and
  subprocess assertions;
- headless Chromium for the browser tests.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a clone carries: everything a stage needs, nothing generated.
PROJECT_FILES = ("dvc.yaml", "params.yaml", "pyproject.toml", ".dvcignore", ".gitignore", "stages", "latent_atlas")
# The plot templates dvc.yaml names, copied once `dvc init` has made .dvc/.
PLOT_TEMPLATES = Path(".dvc/plots")
FAST_VARIANTS = ("classifier", "small_conv")
# The end-to-end pipeline's variants: every role the stages and the ledger's wiring need
# (the z=16/z=6 pair, the denoise pair, masked, mislabel's spatial conv, downstream's dense,
# the sweep sizes the ledger reads, a VAE), one of each training path (MSE, NLL head, corruption, ELBO). The
# other variants differ only in sizes and weights; their architectures run through every
# analysis in tests/unit/analysis/test_analysis.py. The suite's time budget scales with this list.
E2E_VARIANTS = ("classifier", "classifier_z6", "dense", "small_conv", "spatial_conv", "vanilla_z3", "vanilla_z10",
                "vae",
                "denoising", "masked")


def tiny_params(variants: tuple[str, ...] = FAST_VARIANTS) -> dict:
    """The project's params, shrunk: bundled digits, 200 per split, one epoch."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"].update(source="bundled", limit=200)
    params["variants"] = {k: v for k, v in params["variants"].items() if k in variants}
    # One epoch of small batches, in the recipes and in any variant that sets its own.
    for entry in (*params["recipes"].values(), *params["variants"].values()):
        if "epochs" in entry or "batch_size" in entry:
            entry.update(epochs=1, batch_size=min(entry.get("batch_size", 32), 32))
    # Keep every analysis, on a few points: the e2e test checks wiring, not statistics.
    analyze = params["analyze"]
    analyze.update(kmeans_seeds=2, probe_max_train=200)
    analyze["tsne"].update(max_points=100, max_iter=300)
    analyze["noise"].update(max_images=50)
    analyze["traversal"].update(n_images=10, max_dims=4, max_rows=4)
    analyze["dci"].update(n_train=100)
    analyze["likelihood"].update(iwae_k=2)
    analyze["samples"].update(n=100, fit_max=200, interpolation_pairs=2, interpolation_steps=4)
    analyze["sap"].update(n_train=100)
    params["baseline"].update(ks=[2, 5], kmeans_seeds=1, factor_train_n=100, morpho_scale=2)
    params["judge"].update(epochs=1)
    # A role whose variant is absent is left out: its claims then say "not measured in this run".
    params["roles"] = {role: [v for v in names if v in variants] if isinstance(names, list) else names
                       for role, names in params["roles"].items()
                       if isinstance(names, list) or names in variants}
    # The applications on a few images: one epoch per digit, small batches (about 20 training images a digit).
    params["denoise"].update(max_images=20, stds=[0.1, 0.3, 0.5])
    params["denoise"]["nlm"].update(tune_images=4, h_factors=[0.4, 0.8])
    params["anomaly"].update(digits=[1, 7], knn_k=3, roc_points=11)
    params["anomaly"]["model"].update(epochs=1, batch_size=8, latent_dim=4)
    params["mislabel"].update(k=5, max_images=None)
    params["downstream"].update(max_train=None, fit_repeats=1)
    return params


def pipeline_variants(dvc_yaml: dict) -> dict:
    """dvc.yaml's `vars: pipeline_variants`, the list every foreach stage reads."""
    return next(entry["pipeline_variants"] for entry in dvc_yaml["vars"]
                if isinstance(entry, dict) and "pipeline_variants" in entry)


def loss_curves(dvc_yaml: dict) -> dict:
    """dvc.yaml's `vars: loss_curves`, every variant's history file for the `loss` plot."""
    return next(entry["loss_curves"] for entry in dvc_yaml["vars"]
                if isinstance(entry, dict) and "loss_curves" in entry)


# Stages of the applications (denoising, one-class, mislabel, downstream, off-domain):
# the `pipeline` fixture runs them; repositories that test operations leave them out.
APPLICATION_STAGES = ("denoise", "oneclass", "anomaly", "mislabel", "downstream", "offdomain")


def restrict_pipeline(dvc_yaml: dict, variants: tuple[str, ...], applications: bool = True) -> dict:
    """Keep only the given variants in the lists the foreach stages and the loss plot read (and the
    applications' stages if asked)."""
    listed, curves = pipeline_variants(dvc_yaml), loss_curves(dvc_yaml)
    for name in [name for name in listed if name not in variants]:
        del listed[name]
    for path in [path for path in curves if Path(path).stem not in variants]:
        del curves[path]
    if not applications:
        made = set()
        for stage in APPLICATION_STAGES:
            body = dvc_yaml["stages"].pop(stage)
            body = body.get("do", body)
            made |= {next(iter(o)) if isinstance(o, dict) else o
                     for kind in ("outs", "metrics", "plots") for o in body.get(kind, [])}
        for body in dvc_yaml["stages"].values():  # what read their outputs (the ledger) reads them no more
            body = body.get("do", body)
            body["deps"] = [d for d in body.get("deps", []) if d not in made]
    return dvc_yaml


class Repo:
    def __init__(self, root: Path):
        self.root = root
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                    "MLFLOW_TRACKING_URI": "", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
        self.env.pop("MLFLOW_TRACKING_URI")

    def run(self, *cmd: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(cmd, cwd=self.root, env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def dvc(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "dvc"), *args, **kw)

    def commit(self, message: str = "update") -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message, "--allow-empty")

    def head(self) -> str:
        return self.run("git", "rev-parse", "HEAD").stdout.strip()

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def write_params(self, params: dict) -> None:
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(root: Path, variants: tuple[str, ...] = FAST_VARIANTS, applications: bool = False) -> Repo:
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    dvc_yaml = restrict_pipeline(yaml.safe_load((PROJECT / "dvc.yaml").read_text()), variants, applications)
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    repo = Repo(root)
    repo.write_params(tiny_params(variants))
    repo.run("git", "init", "-q")
    repo.dvc("init", "-q")
    repo.dvc("config", "core.analytics", "false")
    shutil.copytree(PROJECT / PLOT_TEMPLATES, root / PLOT_TEMPLATES)
    repo.commit("tiny latent-atlas")
    return repo


def queue_status(repo: Repo) -> dict[str, str]:
    """Experiment name -> its state in `dvc queue status` (Queued, Running, Success, Failed)."""
    out = repo.dvc("queue", "status", timeout=120).stdout
    status = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and re.fullmatch(r"[0-9a-f]{7}", fields[0]):
            status[fields[1]] = fields[-1]
    return status


def dvc_detached(repo: Repo, *args: str, log: Path, timeout: float = 120, env: dict | None = None) -> None:
    """A dvc command that leaves daemons behind (queue workers): its output goes
    to a file, since the daemons would hold a pipe open long after it returns."""
    with open(log, "a") as out:
        result = subprocess.run([str(BIN / "dvc"), *args], cwd=repo.root, env={**repo.env, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{log.read_text()[-3000:]}"



def lock_mismatches(root: Path) -> list[str]:
    """How <root>/dvc.lock differs from what <root>/dvc.yaml and params.yaml define: the
    stages, their commands, params (as `dvc status` compares them), dep and out paths;
    and whether each git-tracked output file is the one the lock records. Hashes of
    code and data are not compared: a clone has the code but not the data, and a code
    change need not make a new baseline."""
    import hashlib

    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo as DvcRepo

    lock = yaml.safe_load((root / "dvc.lock").read_text()).get("stages", {})
    problems = []
    with DvcRepo(str(root)) as dvc:
        defined = {stage.name: stage for stage in dvc.index.stages}  # one dvc.yaml: names are unique
        problems += [f"stage {name}: in dvc.yaml, not in dvc.lock" for name in sorted(defined.keys() - lock.keys())]
        problems += [f"stage {name}: in dvc.lock, no longer in dvc.yaml" for name in sorted(lock.keys() - defined.keys())]
        for name in sorted(defined.keys() & lock.keys()):
            stage, locked = defined[name], lock[name]
            if stage.cmd != locked.get("cmd"):
                problems.append(f"stage {name}: dvc.yaml runs {stage.cmd!r}, dvc.lock ran {locked.get('cmd')!r}")
            for dep in (d for d in stage.deps if isinstance(d, ParamsDependency)):
                locked_values = (locked.get("params") or {}).get(dep.def_path, {})
                current = dep.read_params()
                for key, change in sorted(dep.workspace_status().get(str(dep), {}).items()):
                    problems.append(f"stage {name}: {dep.def_path} {key} is {current.get(key, '(absent)')!r}, "
                                    f"dvc.lock has {locked_values.get(key, '(absent)')!r} ({change})")
            paths = {"deps": {d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)},
                     "outs": {o.def_path for o in stage.outs}}
            for field, expected in paths.items():
                recorded = {entry["path"] for entry in locked.get(field, [])}
                for path in sorted(expected - recorded):
                    problems.append(f"stage {name}: {field} {path} is in dvc.yaml, not in dvc.lock")
                for path in sorted(recorded - expected):
                    problems.append(f"stage {name}: {field} {path} is in dvc.lock, not in dvc.yaml")
            for out in (o for o in stage.outs if not o.use_cache and (root / o.def_path).is_file()):
                entry = next((e for e in locked.get("outs", []) if e["path"] == out.def_path), None)
                if entry and entry.get("md5") != hashlib.md5((root / out.def_path).read_bytes()).hexdigest():
                    problems.append(f"stage {name}: {out.def_path} is not the file dvc.lock records")
    return problems


LOOPBACK = "127.0.0.1"
SERVER_START_TIMEOUT_S = 180  # a cold `mlflow server` takes ~15 s here; shared CPUs make it vary


def free_port() -> int:
    """A loopback port nothing listens on (free at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without a tracking URI, with the venv first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "PYTHONUNBUFFERED": "1"}
    for key in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME"):
        env.pop(key, None)
    env.update(extra)
    return env


class _Listener:
    """A loopback TCP listener whose connections a subclass handles in threads."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}/"
        self.connections: list[socket.socket] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class SilentServer(_Listener):
    """Accepts connections and never sends a byte."""

    def handle(self, conn: socket.socket) -> None:
        self.closed.wait()


class TrickleServer(_Listener):
    """Answers HTTP 200 with a large body, `chunk` bytes every `interval_s`.

    The defaults (a byte every 0.1 s, headers included) never leave a socket
    idle long enough for a per-read timeout to fire. fast_headers: the status
    line and headers arrive at once, then the body trickles.
    """

    def __init__(self, interval_s: float = 0.1, chunk: int = 1, fast_headers: bool = False,
                 body: bytes = b"x" * 10_000_000) -> None:
        super().__init__()
        self.interval_s, self.chunk, self.fast_headers, self.body = interval_s, chunk, fast_headers, body

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.body)}\r\n\r\n".encode()
            if self.fast_headers:
                conn.sendall(head)
                rest = self.body
            else:
                rest = head + self.body
            for i in range(0, len(rest), self.chunk):
                if self.closed.wait(self.interval_s):
                    return
                conn.sendall(rest[i : i + self.chunk])
        except OSError:
            return


class GarbageServer(_Listener):
    """Answers something that is not HTTP, then hangs up."""

    def handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
            conn.close()


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout_s: float = SERVER_START_TIMEOUT_S,
                 log: Path | None = None) -> float:
    """Poll <url>/health until it answers 200; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise AssertionError(f"the server at {url} exited with {proc.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"no answer from {url}/health within {timeout_s} s:\n{tail}")


def stop_process_group(proc: subprocess.Popen, grace_s: float = 15) -> None:
    """SIGTERM the process group that `proc` leads (start_new_session=True), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a sqlite backend.

    serve_artifacts: the server stores and serves artifacts itself
    (--serve-artifacts --artifacts-destination), so clients never write to its disk.
    """

    def __init__(self, folder: Path, backend_uri: str | None = None, serve_artifacts: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.backend_uri = backend_uri or f"sqlite:///{self.folder / 'mlflow.db'}"
        self.artifacts = self.folder / "artifacts"
        self.serve_artifacts = serve_artifacts
        self.log = self.folder / "server.log"
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> MlflowServer:
        port = free_port()
        self.url = f"http://{LOOPBACK}:{port}"
        cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", self.backend_uri,
               "--host", LOOPBACK, "--port", str(port), "--workers", "1"]
        if self.serve_artifacts:
            cmd += ["--serve-artifacts", "--artifacts-destination", str(self.artifacts)]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.folder, env=clean_env(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait(self) -> MlflowServer:
        assert self.proc is not None, "start() first"
        wait_healthy(self.url, self.proc, log=self.log)
        return self

    def stop(self, grace_s: float = 3) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace_s)

    def __enter__(self) -> MlflowServer:
        return self.start().wait()

    def __exit__(self, *exc) -> None:
        self.stop()


def scratch_project(root: Path) -> Path:
    """The stage scripts and the package, copied into `root` (no git, no DVC)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("stages", "latent_atlas"):
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run_stage(root: Path, stage: str, *args: str, timeout: float = 120,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m stages.<stage> ...` in `root`, bounded in time."""
    return subprocess.run([sys.executable, "-m", f"stages.{stage}", *args], cwd=root, capture_output=True,
                          text=True, timeout=timeout, env=env or clean_env())


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    """The stage failed with `code` and exactly one stderr line, naming each needle."""
    detail = f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert result.returncode == code, f"exit code {result.returncode}, expected {code}\n{detail}"
    assert "Traceback" not in result.stderr, detail
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}\n{detail}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t"}


def git(repo: Path, *args: str) -> str:
    """A git command in `repo`; its output, stripped."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_IDENTITY}, timeout=60).stdout.strip()


def pushed_clone(root: Path) -> tuple[Path, Path]:
    """A git clone (root/repo) whose one commit is on its bare remote `origin` (root/origin.git)."""
    remote, repo = root.resolve() / "origin.git", root.resolve() / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True, timeout=60)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(repo)], check=True, timeout=60)
    (repo / "params.yaml").write_text("seed: 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return repo, remote


# Debian's chromium and chromium-driver, found as .ci/run finds them (on PATH).
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"needs {' and '.join(missing)} (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (pip install -e '.[dev]')"
    return None


def require(reason: str | None) -> None:
    """Fail when CI=true (CI installs every component), else skip, naming what is missing."""
    import pytest

    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: this test must run; .ci/run installs what it needs)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium(folder: Path, viewport: dict[str, int], page_load_timeout_s: float):
    """Headless Chromium through selenium, its profile and driver log in `folder`; the page sized `viewport`."""
    require(browser_missing())
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), log_output=str(folder / "chromedriver.log")),
                              options=options)
    try:
        # --window-size counts the window's frame; this sets the page's own size.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {**viewport, "deviceScaleFactor": 1, "mobile": False})
        driver.set_page_load_timeout(page_load_timeout_s)
        yield driver
    finally:
        driver.quit()
